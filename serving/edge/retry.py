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

How long: with one Ingress replica (scripts/run's default) there is no other replica until the
controller has started a replacement (~4-6 s on a quiet 2-core box, more under load), so the
edge keeps sending again, with a growing pause, for up to RETRY_POLICY.budget_s: a try made
while no replica is up waits in Serve's router until one is. A client that hangs up ends it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """When a request lost with its replica is sent again: pauses of first_backoff_s, doubling
    up to max_backoff_s, while the time since the first try began stays under budget_s, at most
    max_attempts tries in all."""

    budget_s: float = 10.0
    first_backoff_s: float = 0.2
    max_backoff_s: float = 1.0
    max_attempts: int = 20

    def pause(self, failed: int, elapsed_s: float) -> float | None:
        """The pause before the next try after `failed` tries died, `elapsed_s` after the first
        began; None: no further try."""
        if failed >= self.max_attempts:
            return None
        pause = min(self.max_backoff_s, self.first_backoff_s * 2 ** (failed - 1))
        return pause if elapsed_s + pause < self.budget_s else None


RETRY_POLICY = RetryPolicy()
_RETRYABLE_POST = ("/v1/playlists", "/v1/search", "/v1/feedback")
# ray.exceptions: ActorDiedError ("The actor died unexpectedly ..."), RayActorError ("The actor
# is dead ..."), ActorUnavailableError ("The actor <id> is unavailable: ...").
_DEATH = re.compile(rb"\bactor\b[^\n]{0,80}?\b(died|is dead|is unavailable)\b", re.IGNORECASE)
_DISCONNECT = {"type": "http.disconnect"}


def retryable(scope) -> bool:
    method, path = scope.get("method", ""), scope.get("path", "")
    if method in ("GET", "HEAD"):
        return True
    return method == "POST" and any(path == p or path.endswith(p) for p in _RETRYABLE_POST)


def replica_died(status: int, content_type: bytes, body: bytes) -> bool:
    """The proxy's own answer for a request lost with its replica (not an app's JSON error)."""
    return status >= 500 and not content_type.startswith(b"application/json") and bool(_DEATH.search(body))


class _Client:
    """The client's side of one request across its tries: each try is handed the (already read)
    body, then the client's next message, which after the body can only be its disconnect.
    One read of the real receive is outstanding at a time, shared by the try and the watch
    during a pause, so a hang-up is seen whoever is waiting when it comes."""

    def __init__(self, receive, body: bytes | None):
        self._receive = receive
        self._body = body or b""  # a bodiless request's own empty body message is never handed on
        self._pending: asyncio.Future | None = None
        self.gone = False

    def receive_for_try(self):
        replayed = False

        async def receive():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": self._body, "more_body": False}
            return await self._next()

        return receive

    async def _next(self) -> dict:
        while not self.gone:
            if self._pending is None:
                self._pending = asyncio.ensure_future(self._receive())
            msg = await asyncio.shield(self._pending)  # a cancelled waiter leaves the read to the next
            self._pending = None
            if msg.get("type") == "http.disconnect":
                self.gone = True
        return dict(_DISCONNECT)

    async def pause(self, seconds: float) -> bool:
        """Waits `seconds`; False if the client hung up meanwhile."""
        watch = asyncio.ensure_future(self._next())
        try:
            await asyncio.wait({watch}, timeout=seconds)
        finally:
            watch.cancel()
        return not self.gone

    def close(self) -> None:
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()


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


async def call(app, scope, body: bytes | None, receive, send, policy: RetryPolicy | None = None) -> None:
    """The app, with a request lost with its replica sent again where that is harmless, and
    answered with the one JSON error shape (not the HTTP server's bare 500) otherwise."""
    policy = policy or RETRY_POLICY
    again = retryable(scope)
    client = _Client(receive, body)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    failed = 0
    try:
        while True:
            hold = _Hold(send)
            # A fresh scope each try: Serve's proxy strips the route prefix from scope["path"] in
            # place (and extends root_path), so a second try with the same dict would miss an app
            # served under a prefix (404).
            await app(dict(scope), client.receive_for_try(), hold)
            if not hold.responded:
                if client.gone:  # Serve ends a try without a response when its client hangs up
                    return None
                hold.died = True
            if not hold.died or not again:
                return await hold.release()
            failed += 1
            pause = policy.pause(failed, loop.time() - t0)
            if pause is None:
                log.warning("%s %s: its Ingress replica died %d times in %.1fs; giving up",
                            scope.get("method"), scope.get("path"), failed, loop.time() - t0)
                return await hold.release()
            log.warning("%s %s: its Ingress replica died; sending it again in %.1fs (try %d)",
                        scope.get("method"), scope.get("path"), pause, failed + 1)
            if not await client.pause(pause):
                return None
    finally:
        client.close()
