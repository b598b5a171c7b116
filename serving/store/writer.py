"""Group commit off the request path: concurrent writes are gathered into one transaction.

`await writer.submit(op)` returns once `op` is committed (so an acknowledged write
survives a killed process), yet many callers share one transaction and one fsync. A
database that is down is retried with backoff; a write still uncommitted `retry_budget_s`
after it was submitted, or one past `max_pending`, is dropped: its caller gets
StoreUnavailableError, the drop is counted and logged (rate-limited), and the process
carries on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Callable

from serving.store.base import Database, StoreUnavailableError, Tx
from serving.store.config import WriterConfig

log = logging.getLogger(__name__)

Op = Callable[[Tx], Any]


@dataclass
class _Pending:
    op: Op
    kind: str
    future: asyncio.Future
    deadline: float


@dataclass
class WriterStats:
    committed: Counter = field(default_factory=Counter)  # kind -> writes
    dropped: Counter = field(default_factory=Counter)
    failed: Counter = field(default_factory=Counter)     # the op itself raised (a bug or bad data), not the database
    batches: int = 0
    retries: int = 0

    def as_dict(self) -> dict:
        return {"committed": dict(self.committed), "dropped": dict(self.dropped), "failed": dict(self.failed),
                "batches": self.batches, "retries": self.retries}


class BatchWriter:
    def __init__(self, db: Database, config: WriterConfig | None = None,
                 on_commit: Callable[[Counter, float], None] | None = None,
                 on_drop: Callable[[str, int], None] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.db = db
        self.config = config or WriterConfig()
        self.stats = WriterStats()
        self._on_commit = on_commit or (lambda kinds, seconds: None)
        self._on_drop = on_drop or (lambda kind, n: None)
        self._clock = clock
        self._queue: deque[_Pending] = deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._last_drop_log = 0.0
        self._closed = False

    @property
    def pending(self) -> int:
        return len(self._queue)

    async def submit(self, op: Op, kind: str = "write") -> Any:
        """Run `op(tx)` in the next batch; returns its result once committed."""
        if self._closed:
            raise StoreUnavailableError("the store writer is closed")
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._run(), name="store-writer")
        fut = loop.create_future()
        if len(self._queue) >= self.config.max_pending:
            self._drop([_Pending(op, kind, fut, 0.0)], "the write queue is full")
            return await fut
        self._queue.append(_Pending(op, kind, fut, self._clock() + self.config.retry_budget_s))
        self._wake.set()
        return await fut

    async def close(self, timeout_s: float = 5.0) -> None:
        """Flush what is queued (up to timeout_s), then refuse new writes."""
        self._closed = True
        if self._task is not None and not self._task.done():
            deadline = self._clock() + timeout_s
            while self._queue and self._clock() < deadline:
                self._wake.set()
                await asyncio.sleep(0.01)
            self._task.cancel()
        if self._queue:
            self._drop(list(self._queue), "the writer closed")
            self._queue.clear()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.config.flush_interval_ms:
                await asyncio.sleep(self.config.flush_interval_ms / 1000)  # let concurrent writes join
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), self.config.max_batch))]
                await self._commit_with_retry(batch)

    async def _commit_with_retry(self, batch: list[_Pending]) -> None:
        backoff = 0.05
        while batch:
            t0 = time.perf_counter()
            try:
                results = await asyncio.to_thread(self._commit, [p.op for p in batch])
            except StoreUnavailableError as e:
                self.stats.retries += 1
                now = self._clock()
                expired = [p for p in batch if p.deadline <= now]
                if expired:
                    self._drop(expired, f"database unavailable for {self.config.retry_budget_s:g}s: {e}")
                batch = [p for p in batch if p.deadline > now]
                if batch:
                    await asyncio.sleep(min(backoff, max(0.0, min(p.deadline for p in batch) - now)))
                    backoff = min(backoff * 2, 1.0)
                continue
            except Exception:  # noqa: BLE001 - one bad op must not sink the others: isolate it
                await self._commit_one_by_one(batch)
                return
            self._resolve(batch, results, time.perf_counter() - t0)
            return

    def _commit(self, ops: list[Op]) -> list[Any]:
        with self.db.transaction() as tx:
            return [op(tx) for op in ops]

    async def _commit_one_by_one(self, batch: list[_Pending]) -> None:
        for p in batch:
            try:
                t0 = time.perf_counter()
                res = await asyncio.to_thread(self._commit, [p.op])
            except StoreUnavailableError:
                await self._commit_with_retry([p])
            except Exception as e:  # noqa: BLE001 - reported to the caller that submitted it
                self.stats.failed[p.kind] += 1
                log.exception("store write %s failed", p.kind)
                if not p.future.done():
                    p.future.set_exception(e)
            else:
                self._resolve([p], res, time.perf_counter() - t0)

    def _resolve(self, batch: list[_Pending], results: list[Any], seconds: float) -> None:
        self.stats.batches += 1
        kinds = Counter(p.kind for p in batch)
        self.stats.committed.update(kinds)
        for p, r in zip(batch, results):
            if not p.future.done():
                p.future.set_result(r)
        self._on_commit(kinds, seconds)

    def _drop(self, items: list[_Pending], why: str) -> None:
        kinds = Counter(p.kind for p in items)
        for kind, n in kinds.items():
            self.stats.dropped[kind] += n
            self._on_drop(kind, n)
        for p in items:
            if not p.future.done():
                p.future.set_exception(StoreUnavailableError(f"store write dropped: {why}"))
        now = self._clock()
        if now - self._last_drop_log >= 10.0:  # an outage must not flood the log
            self._last_drop_log = now
            log.error("store %s: dropped %s (%s); total dropped so far %s", self.db.describe(), dict(kinds), why,
                      dict(self.stats.dropped))
