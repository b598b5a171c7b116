"""Pure ASGI middleware for the Ingress: request ids, body-size limit, rate limit.

Pure ASGI (not Starlette's BaseHTTPMiddleware) because it runs on every request and
the Ingress is on the latency path; it also sees the body before FastAPI buffers it.
"""

from __future__ import annotations

import json
import re
import uuid

from serving.security.ratelimit import TokenBucketLimiter

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Liveness/readiness probes must never be rate limited or a busy client could fail them.
_EXEMPT = ("/healthz", "/readyz")


def _header(scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return v.decode("latin-1")
    return None


async def _reply(send, status: int, error: str, message: str, request_id: str, extra_headers=()):
    body = json.dumps({"error": error, "message": message, "request_id": request_id}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"x-request-id", request_id.encode()), *extra_headers]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class IngressGuard:
    def __init__(self, app, *, max_body_bytes: int, limiter: TokenBucketLimiter | None,
                 trust_forwarded_for: bool = False):
        self.app = app
        self.max_body = max_body_bytes
        self.limiter = limiter
        self.trust_xff = trust_forwarded_for

    def _client(self, scope) -> str:
        if self.trust_xff:
            xff = _header(scope, b"x-forwarded-for")
            if xff:
                return xff.split(",")[0].strip()
        client = scope.get("client")
        return client[0] if client else "unknown"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        given = _header(scope, b"x-request-id") or ""
        rid = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid

        if self.limiter is not None and not scope["path"].endswith(_EXEMPT):
            wait = self.limiter.acquire(self._client(scope))
            if wait > 0:
                return await _reply(send, 429, "rate_limited",
                                    f"too many requests from this client; retry after {wait:.1f}s", rid,
                                    [(b"retry-after", TokenBucketLimiter.retry_after_header(wait).encode())])

        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return await _reply(send, 413, "payload_too_large",
                                f"request body is {length} bytes; the limit is {self.max_body}", rid)

        if length is None and scope.get("method") in ("POST", "PUT", "PATCH"):
            # No Content-Length (chunked): read up to the limit here, then replay it.
            chunks, seen, more = [], 0, True
            while more:
                msg = await receive()
                if msg["type"] != "http.request":
                    break
                chunks.append(msg.get("body", b""))
                seen += len(chunks[-1])
                more = msg.get("more_body", False)
                if seen > self.max_body:
                    return await _reply(send, 413, "payload_too_large",
                                        f"request body is over the limit of {self.max_body} bytes", rid)
            replayed, original = False, receive

            async def receive():  # noqa: F811 - the replay replaces the original receive
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
                return await original()

        # Behind Serve's proxy the request carries x-request-id and the proxy echoes it;
        # only a request without a usable one needs the header added here.
        async def send_with_id(message):
            if message["type"] == "http.response.start" and given != rid:
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            await send(message)

        await self.app(scope, receive, send_with_id)
