"""EdgeGuard: pure ASGI middleware that runs in Serve's HTTP proxy, outside Serve's own
request handling (which decodes some header values as UTF-8 and answers a plain-text
500 when that fails), so every request Serve sees is one it can handle.

Per request: header count/bytes and URL length (backstop for the connection-level
limits in serving/edge/connection.py), header bytes that are UTF-8 without control
characters, exactly one safe X-Request-ID, no client-set Serve control headers, the
body read whole within its deadline and size cap, and every error that the proxy or
Starlette writes as plain text re-encoded in the one JSON error shape.
"""

from __future__ import annotations

import asyncio
import re

from serving.edge import retry
from serving.edge.config import EdgeSettings
from serving.edge.shed import EdgeShed
from serving.errors import (
    HeadersTooLarge, InvalidHeader, Overloaded, PayloadTooLarge, RequestTimeout, SegueError, UriTooLong, encode_error,
    error_for_status,
)
from serving.security.middleware import safe_request_id

# Control characters other than horizontal tab; h11/httptools already refuse CR/LF.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# Headers that steer Ray Serve itself: a client must not lift the request timeout, turn
# off disconnect handling or pick a multiplexed model. (x-session-id stays: sessions use it.)
_SERVE_CONTROL = (b"x-request-timeout-seconds", b"x-request-disconnect-disabled")
_MULTIPLEX = b"serve_multiplexed_model_id"
_WITH_BODY = ("POST", "PUT", "PATCH")
PLATFORM_RETRY_AFTER_S = 1
_PLATFORM_MESSAGES = {
    404: "no such route; see /docs for the API",
    405: "method not allowed on this route",
    408: "the request took longer than the server's request timeout",
    500: "internal error in the serving platform; the request id identifies it in the logs",
    503: "the service is not available right now; retry shortly",
    504: "the service did not answer in time; retry shortly",
}


def check_head(scope, settings: EdgeSettings) -> SegueError | None:
    """The error a request head earns at the edge, or None."""
    limits = settings.limits
    headers = scope.get("headers", ())
    url_bytes = len(scope.get("raw_path") or scope.get("path", "").encode()) + len(scope.get("query_string", b""))
    if url_bytes > limits.max_url_bytes:
        return UriTooLong(f"request URL is {url_bytes} bytes; the limit is {limits.max_url_bytes}")
    if len(headers) > limits.max_headers:
        return HeadersTooLarge(f"request has {len(headers)} headers; the limit is {limits.max_headers}")
    size = url_bytes + sum(len(k) + len(v) + 4 for k, v in headers)
    if size > limits.max_header_bytes:
        return HeadersTooLarge(f"request headers are {size} bytes; the limit is {limits.max_header_bytes}")
    for name, value in headers:
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            return InvalidHeader(f"header '{_printable(name)}' is not valid UTF-8; send ASCII or UTF-8 header values")
        if _CONTROL.search(text):
            return InvalidHeader(f"header '{_printable(name)}' contains control characters")
    return None


def _printable(name: bytes) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "?", name.decode("latin-1"))[:64]


def _forwarded_headers(headers, rid: str) -> list[tuple[bytes, bytes]]:
    kept = [(k, v) for k, v in headers
            if k != b"x-request-id" and k not in _SERVE_CONTROL and k.replace(b"-", b"_") != _MULTIPLEX]
    return kept + [(b"x-request-id", rid.encode())]


_GONE = object()


class _Refused(Exception):
    def __init__(self, err: SegueError, close: bool = False):
        self.err, self.close = err, close


class EdgeGuard:
    def __init__(self, app, settings: EdgeSettings | None = None):
        self.app = app
        self.settings = settings or EdgeSettings()
        self.shed = EdgeShed(self.settings.shedding)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        given = next((v for k, v in scope.get("headers", ()) if k == b"x-request-id"), b"")
        rid = safe_request_id(given.decode("latin-1"))
        err = check_head(scope, self.settings)
        if err is not None:
            return await _send(send, err, rid, close=True)
        scope = {**scope, "headers": _forwarded_headers(scope["headers"], rid)}
        try:
            body = await self._read_body(scope, receive)
        except _Refused as r:
            return await _send(send, r.err, rid, close=r.close)
        if body is _GONE:  # the client went away while sending
            return None
        if not self.shed.covers(scope):
            # Sent again if its Ingress replica dies under it, where that is harmless (edge/retry.py).
            return await retry.call(self.app, scope, body, receive, _OneShape(send, rid))
        try:
            ticket = self.shed.enter(scope)
        except Overloaded as e:  # past the proxy's bound: refused before Serve's proxy spends anything on it
            return await _send(send, e, rid)
        # The request leaves the bound when its answer's last byte is sent, not when the inner
        # app returns: Serve's proxy keeps the call open a little after the response, so a
        # client's next request arrived while its last one was still counted (found in the e2e
        # tier: a 12-client burst got 503 at 15 in flight).
        done = _Once(lambda status: self.shed.leave(ticket, status))
        shape = _OneShape(send, rid, on_complete=done)
        try:
            await retry.call(self.app, scope, body, receive, shape)
        finally:
            done(shape.status)

    async def _read_body(self, scope, receive) -> bytes | None | object:
        """The whole (small, capped) body, read within the body deadline; None when the request
        has no body, _GONE when the client disconnected."""
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        if scope.get("method") not in _WITH_BODY and length in (None, b"0") and not chunked:
            return None
        cap = self.settings.max_body_bytes
        if length is not None and length.isdigit() and int(length) > cap:
            raise _Refused(PayloadTooLarge(f"request body is {int(length)} bytes; the limit is {cap}"), close=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.timeouts.body_s
        chunks, seen, more = [], 0, True
        while more:
            try:
                msg = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                raise _Refused(RequestTimeout(f"the request body did not arrive within "
                                              f"{self.settings.timeouts.body_s:g}s"), close=True) from None
            if msg["type"] == "http.disconnect":
                return _GONE
            chunks.append(msg.get("body", b""))
            seen += len(chunks[-1])
            more = msg.get("more_body", False)
            if seen > cap:
                raise _Refused(PayloadTooLarge(f"request body is over the limit of {cap} bytes"), close=True)
        return b"".join(chunks)


async def _send(send, err: SegueError, rid: str, close: bool = False) -> None:
    status, headers, body = encode_error(err, rid)
    if close:  # a client that broke the limits does not get to keep the connection
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _Once:
    def __init__(self, fn):
        self._fn = fn

    def __call__(self, *args):
        fn, self._fn = self._fn, None
        if fn is not None:
            fn(*args)


class _OneShape:
    """The send of the inner app: one X-Request-ID, and plain-text errors re-encoded.
    `on_complete(status)` is called once the response's last body message is sent."""

    def __init__(self, send, rid: str, on_complete=None):
        self._send, self._rid = send, rid
        self._rewrite: dict | None = None
        self._on_complete = on_complete
        self.status: int | None = None  # of the answer sent, for the edge's bound

    async def __call__(self, message):
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
            status = message["status"]
            content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
            if status >= 400 and not content_type.startswith(b"application/json"):
                self._rewrite = {"status": status, "headers": headers}
                return None
            message = {**message, "headers": headers + [(b"x-request-id", self._rid.encode())]}
        elif kind == "http.response.body" and self._rewrite is not None:
            if message.get("more_body", False):
                return None  # the plain-text body is replaced, not forwarded
            start, self._rewrite = self._rewrite, None
            status = start["status"]
            err = error_for_status(status, _PLATFORM_MESSAGES.get(status, "the request failed"))
            kept = [(k, v) for k, v in start["headers"] if k.lower() in (b"retry-after", b"connection")]
            if status == 503 and not any(k.lower() == b"retry-after" for k, _ in kept):
                # Serve's own back-pressure (every Ingress replica at max_ongoing_requests and its
                # queue full) is shed here in the proxy without a hop: the cheapest 503 there is,
                # and it must tell clients when to come back like the Ingress's own 503s do.
                err.retry_after_s = PLATFORM_RETRY_AFTER_S
            _, headers, body = encode_error(err, self._rid)
            await self._send({"type": "http.response.start", "status": status, "headers": headers + kept})
            await self._send({"type": "http.response.body", "body": body})
            return self._completed()
        await self._send(message)
        if kind == "http.response.body" and not message.get("more_body", False):
            self._completed()

    def _completed(self) -> None:
        if self._on_complete is not None:
            self._on_complete(self.status)
