"""Connection-level defences for the uvicorn server inside Serve's HTTP proxy.

uvicorn has no deadline for reading a request head: a client that opens a connection
and sends nothing, or sends its headers a byte every few seconds, holds a connection
(and a slot of the proxy) forever; and httptools buffers a header of any size. Serve
passes uvicorn no option for either, so the proxy process swaps uvicorn's protocol
class for this subclass before its server starts (serving/edge/proxy.py):

- head deadline: from connection open, or from the first byte of the next request on a
  keep-alive connection, to the end of the headers; past it 408 and close;
- head size: request line + headers over the limit -> 431/414 while still reading, so
  an 8 MiB header is never buffered whole; too many headers -> 431;
- malformed requests get the JSON error shape instead of uvicorn's plain text.
Idle keep-alive connections are closed by uvicorn itself (Serve's keep_alive_timeout_s).
"""

from __future__ import annotations

import http
import logging
import uuid

from serving.edge.config import EdgeSettings
from serving.errors import HeadersTooLarge, InvalidRequest, RequestTimeout, SegueError, UriTooLong, encode_error

log = logging.getLogger(__name__)


def raw_error_response(err: SegueError) -> bytes:
    """A complete HTTP/1.1 error response that closes the connection (no ASGI app involved)."""
    status, headers, body = encode_error(err, uuid.uuid4().hex)
    lines = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}".encode()]
    lines += [k + b": " + v for k, v in headers] + [b"connection: close", b"", body]
    return b"\r\n".join(lines)


class _Refuse(Exception):
    """Raised inside a parser callback: httptools stops parsing and uvicorn calls send_400_response."""


def guarded_protocol(settings: EdgeSettings) -> type:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    t, lim = settings.timeouts, settings.limits
    head_cap = lim.max_header_bytes + lim.max_url_bytes

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._edge_timer = None
            self._edge_in_head = True
            self._edge_head_bytes = 0
            self._edge_error: SegueError | None = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._edge_arm()

        def connection_lost(self, exc) -> None:
            self._edge_disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._edge_in_head:
                self._edge_arm()
                self._edge_head_bytes += len(data)
            super().data_received(data)
            if self._edge_in_head and self._edge_head_bytes > head_cap and not self.transport.is_closing():
                self._edge_refuse(HeadersTooLarge(f"request headers are over {lim.max_header_bytes} bytes, the limit"))

        def on_url(self, url: bytes) -> None:
            super().on_url(url)
            if len(self.url) > lim.max_url_bytes:
                self._edge_error = UriTooLong(f"request URL is over {lim.max_url_bytes} bytes, the limit")
                raise _Refuse()

        def on_header(self, name: bytes, value: bytes) -> None:
            super().on_header(name, value)
            if len(self.headers) > lim.max_headers:
                self._edge_error = HeadersTooLarge(f"request has over {lim.max_headers} headers, the limit")
                raise _Refuse()

        def on_headers_complete(self) -> None:
            self._edge_in_head = False
            self._edge_disarm()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # The next request's head deadline starts at its first byte; until then the
            # connection is idle and uvicorn's keep-alive timeout applies.
            self._edge_in_head, self._edge_head_bytes = True, 0

        def send_400_response(self, msg: str) -> None:
            err, self._edge_error = self._edge_error, None
            self._edge_refuse(err or InvalidRequest(f"malformed HTTP request ({msg.rstrip('.')})"))

        def _edge_arm(self) -> None:
            if self._edge_timer is None:
                self._edge_timer = self.loop.call_later(t.header_s, self._edge_head_timeout)

        def _edge_disarm(self) -> None:
            if self._edge_timer is not None:
                self._edge_timer.cancel()
                self._edge_timer = None

        def _edge_head_timeout(self) -> None:
            self._edge_timer = None
            if self._edge_in_head and not self.transport.is_closing():
                self._edge_refuse(RequestTimeout(f"request headers did not arrive within {t.header_s:g}s"))

        def _edge_refuse(self, err: SegueError) -> None:
            self._edge_disarm()
            if not self.transport.is_closing():
                self.transport.write(raw_error_response(err))
                self.transport.close()

    return GuardedHttpToolsProtocol


def install(settings: EdgeSettings) -> bool:
    """Make uvicorn's "auto" HTTP protocol the guarded one in this process. False (and a
    warning) when uvicorn runs on h11 here: then only the per-request checks apply."""
    from uvicorn.protocols.http import auto
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    if not issubclass(auto.AutoHTTPProtocol, HttpToolsProtocol):
        log.warning("segue edge: uvicorn uses %s, not httptools; head deadlines and limits are off",
                    auto.AutoHTTPProtocol.__name__)
        return False
    auto.AutoHTTPProtocol = guarded_protocol(settings)
    return True
