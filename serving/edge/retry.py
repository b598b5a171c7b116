"""Requests whose Ingress replica died under them are sent again by the proxy.

When an Ingress replica is killed (OOM, node drain, scale-down past its grace period), Serve's
proxy logs "Request failed: The actor died unexpectedly" for the requests it had in flight
there and returns without any response (the HTTP server then writes a bare 500); a request
routed there before the controller noticed gets the same. An application error never looks
like that: the Ingress's own error handlers always answer. The edge has the whole request
body already (it reads it to cap its size), nothing has reached the client yet, and another
replica can answer: so the request is sent again.

Only routes where a second try is harmless are repeated: playlist and search answers (a
dead replica's served record, if it was written at all, is an exposure nobody saw), feedback
(idempotent on playlist, track and event) and reads. Creating a session or a turn is not
repeated: the first try may have been stored.
"""

from __future__ import annotations

import asyncio
import logging
import re

from serving.security.middleware import replay_body

log = logging.getLogger(__name__)

ATTEMPTS = 3
BACKOFF_S = 0.2  # times the attempt: the router drops the dead replica within a few hundred ms
_RETRYABLE_POST = ("/v1/playlists", "/v1/search", "/v1/feedback")
# ray.exceptions: ActorDiedError ("The actor died unexpectedly ..."), RayActorError ("The actor
# is dead ..."), ActorUnavailableError ("The actor <id> is unavailable: ...").
_DEATH = re.compile(rb"\bactor\b[^\n]{0,80}?\b(died|is dead|is unavailable)\b", re.IGNORECASE)


def retryable(scope) -> bool:
    method, path = scope.get("method", ""), scope.get("path", "")
    if method in ("GET", "HEAD"):
        return True
    return method == "POST" and any(path == p or path.endswith(p) for p in _RETRYABLE_POST)


def replica_died(status: int, content_type: bytes, body: bytes) -> bool:
    """The proxy's own answer for a request lost with its replica (not an app's JSON error)."""
    return status >= 500 and not content_type.startswith(b"application/json") and bool(_DEATH.search(body))


class _Hold:
    """A send that forwards everything except a plain-text 5xx, which it holds until its
    body shows whether it is a replica death (then dropped, for a retry) or not (forwarded)."""

    def __init__(self, send):
        self._send = send
        self._held: list[dict] = []
        self.died = False
        self.responded = False

    async def __call__(self, message):
        kind = message["type"]
        if kind == "http.response.start":
            self.responded = True
            ctype = next((v for k, v in message.get("headers", []) if k.lower() == b"content-type"), b"")
            if message["status"] >= 500 and not ctype.startswith(b"application/json"):
                self._held = [message]
                return None
        elif kind == "http.response.body" and self._held:
            self._held.append(message)
            if message.get("more_body", False):
                return None
            start = self._held[0]
            ctype = next((v for k, v in start.get("headers", []) if k.lower() == b"content-type"), b"")
            body = b"".join(m.get("body", b"") for m in self._held[1:])
            if replica_died(start["status"], ctype, body):
                self.died = True
                return None
            held, self._held = self._held, []
            for m in held:
                await self._send(m)
            return None
        await self._send(message)

    async def release(self) -> None:
        held, self._held = self._held, []
        if not self.responded:  # plain text: the edge's encoder turns it into the JSON error shape
            held = [{"type": "http.response.start", "status": 500, "headers": [(b"content-type", b"text/plain")]},
                    {"type": "http.response.body", "body": b"the Ingress replica serving this request died"}]
        for m in held:
            await self._send(m)


async def call(app, scope, body: bytes | None, receive, send) -> None:
    """The app, with a request lost with its replica sent again where that is harmless, and
    answered with the one JSON error shape (not the HTTP server's bare 500) otherwise."""
    attempts = ATTEMPTS if retryable(scope) else 1
    gone = False

    async def watched():  # a client that hung up gets no second try (Serve also ends the try without a response)
        nonlocal gone
        msg = await receive()
        gone = gone or msg.get("type") == "http.disconnect"
        return msg

    for attempt in range(attempts):
        hold = _Hold(send)
        await app(scope, replay_body(body, watched) if body is not None else watched, hold)
        if not hold.responded:
            if gone:
                return None
            hold.died = True
        if not hold.died or attempt == attempts - 1:
            return await hold.release()
        log.warning("%s %s: its Ingress replica died; sending it again (try %d of %d)",
                    scope.get("method"), scope.get("path"), attempt + 2, attempts)
        await asyncio.sleep(BACKOFF_S * (attempt + 1))
