"""Pure ASGI middleware for the Ingress: request ids, content type, body-size limit,
per-client rate and concurrency limits.

Pure ASGI (not Starlette's BaseHTTPMiddleware) because it runs on every request and
the Ingress is on the latency path; it also sees the body before FastAPI buffers it.
Refusals are domain errors (serving.errors) written by the one encoder, so they look
exactly like every other error. Serve's proxy already enforced the edge limits
(serving/edge); these checks hold for any other way the app is served.
"""

from __future__ import annotations

import re
import uuid

from serving.errors import (
    PayloadTooLarge, RateLimited, SegueError, UnsupportedMediaType, retry_after_seconds, send_error,
)
from serving.security.client_id import ClientIdentity
from serving.security.concurrency import ConcurrencyLimiter
from serving.security.ratelimit import TokenBucketLimiter

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Liveness/readiness probes must never be limited or a busy client could fail them.
_EXEMPT = ("/healthz", "/readyz")
_WITH_BODY = ("POST", "PUT", "PATCH")


def safe_request_id(given: str | None) -> str:
    """The client's id if it is short and plain (it is echoed and logged), else a fresh one."""
    return given if given and REQUEST_ID.match(given) else uuid.uuid4().hex


def _header(scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return v.decode("latin-1")
    return None


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class IngressGuard:
    def __init__(self, app, *, max_body_bytes: int, limiter: TokenBucketLimiter | None,
                 identity: ClientIdentity | None = None, concurrency: ConcurrencyLimiter | None = None):
        self.app = app
        self.max_body = max_body_bytes
        self.limiter = limiter
        self.identity = identity or ClientIdentity()
        self.concurrency = concurrency

    def _client(self, scope) -> str:
        peer = scope.get("client")
        xff = [v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-forwarded-for"]
        return self.identity.client(peer[0] if peer else None, xff)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        given = _header(scope, b"x-request-id")
        rid = safe_request_id(given)
        scope.setdefault("state", {})["request_id"] = rid
        limited = not scope["path"].endswith(_EXEMPT)
        client = self._client(scope) if limited else ""
        try:
            receive = await self._admit(scope, receive, client, limited)
        except SegueError as err:
            return await send_error(send, err, rid)
        # One X-Request-ID on the way out: drop any the app set; add ours unless a proxy
        # in front (Serve's) echoes the id it forwarded, which is then this same one.
        add = [(b"x-request-id", rid.encode())] if given != rid else []

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message = {**message, "headers": kept + add}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if limited and self.concurrency is not None:
                self.concurrency.release(client)

    async def _admit(self, scope, receive, client: str, limited: bool):
        """Raise the domain error that refuses the request, or return the receive to use."""
        if limited and self.limiter is not None:
            wait = self.limiter.acquire(client)
            if wait > 0:
                secs = retry_after_seconds(wait)
                raise RateLimited(f"too many requests from this client; retry after {secs}s", retry_after_s=secs)

        body_method = scope.get("method") in _WITH_BODY
        if body_method and not _is_json(_header(scope, b"content-type")):
            raise UnsupportedMediaType("request bodies must be JSON: send 'Content-Type: application/json'")

        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            raise PayloadTooLarge(f"request body is {length} bytes; the limit is {self.max_body}")

        if length is None and body_method:
            receive = await self._buffered(receive)

        if limited and self.concurrency is not None and not self.concurrency.try_acquire(client):
            n = self.concurrency.in_flight(client)
            raise RateLimited(f"this client already has {n} requests in flight, its share now; wait for one "
                              "to finish (retry after 1s)", retry_after_s=1)
        return receive

    async def _buffered(self, receive):
        """No Content-Length (chunked): read up to the limit here, then replay it."""
        chunks, seen, more = [], 0, True
        while more:
            msg = await receive()
            if msg["type"] != "http.request":
                break
            chunks.append(msg.get("body", b""))
            seen += len(chunks[-1])
            more = msg.get("more_body", False)
            if seen > self.max_body:
                raise PayloadTooLarge(f"request body is over the limit of {self.max_body} bytes")
        return replay_body(b"".join(chunks), receive)


def replay_body(body: bytes, receive):
    """An ASGI receive that hands the app the already-read body once, then defers to the real one."""
    replayed = False

    async def replay():
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
