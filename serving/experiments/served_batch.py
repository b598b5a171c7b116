"""Served-playlist records leave an Ingress replica in batches, not one store call each.

Every answered playlist is recorded in the OutcomeStore. One Serve call per playlist was,
after the proxy and the Ingress's own HTTP work, the largest per-request cost left on the
batched path (docs/performance.md): a request hop on both sides plus a task per record.
The requests of one `@serve.batch` finish together, so records added within `window_s` of
the first one go out as one call; the store's BatchWriter commits them together as it did
before. Recording stays off the response path and a failed flush is only logged, exactly
as a failed single record was.
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
        if self._pending:
            batch, self._pending = self._pending, []
            self._run_later(self._send(batch))

    @property
    def pending(self) -> int:
        return len(self._pending)
