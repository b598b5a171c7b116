"""Served-playlist records leave an Ingress replica in batches, not one store call each.

Every answered playlist is recorded in the OutcomeStore. One Serve call per playlist was,
after the proxy and the Ingress's own HTTP work, the largest per-request cost left on the
batched path (docs/performance.md): a request hop on both sides plus a task per record.
The requests of one Ingress micro-batch finish together, so records added within `window_s` of
the first one go out as one call; the store's BatchWriter commits them together as it did
before. Recording stays off the response path; a failed send is logged by the owner of
`run_later`, exactly as a failed single record was.

Reads that must see this replica's own records (feedback on a playlist just served here, the
experiment summary) call `settle()` first: it sends what is pending and waits for sends in
flight, so batching never turns a fresh playlist into an unknown one.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

from serving.experiments.outcomes import Served


class ServedBatcher:
    def __init__(self, send: Callable[[list[Served]], Awaitable[None]],
                 run_later: Callable[[Awaitable[None]], None], window_s: float = 0.005, max_batch: int = 64):
        self._send = send
        self._run_later = run_later  # the runtime's background-task owner (logs failures)
        self._window_s = window_s
        self._max_batch = max_batch
        self._pending: list[Served] = []
        self._timer: asyncio.TimerHandle | None = None
        self._sending: dict[asyncio.Future, frozenset[str]] = {}  # send -> its playlist ids

    def add(self, rec: Served) -> None:
        self._pending.append(rec)
        if len(self._pending) >= self._max_batch:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._window_s, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        done = asyncio.get_running_loop().create_future()
        self._sending[done] = frozenset(r.playlist_id for r in batch)

        async def send() -> None:
            try:
                await self._send(batch)
            finally:
                self._sending.pop(done, None)
                if not done.done():
                    done.set_result(None)

        self._run_later(send())

    def holds(self, playlist_id: str) -> bool:
        """Pending here or still on its way to the store."""
        return any(r.playlist_id == playlist_id for r in self._pending) or any(
            playlist_id in ids for ids in self._sending.values())

    async def settle(self, timeout_s: float = 10.0) -> None:
        """Bounded: a store that is down makes the send retry for ~30 s; the read then goes
        ahead and reports what the store says (503 or 'not recorded yet'), it does not hang."""
        self.flush()
        if self._sending:
            await asyncio.wait(list(self._sending), timeout=timeout_s)

    @property
    def pending(self) -> int:
        return len(self._pending)
