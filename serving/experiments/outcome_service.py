"""The async face of the outcome store: writes go through the batching writer (group
commit, off the request path), reads run in a worker thread, and a database outage turns
into counted, logged drops and typed "store unavailable" answers, never an exception
that could fail a playlist.

Used in the OutcomeStore deployment and, in one process, by LocalOutcomeSink.
"""

from __future__ import annotations

import asyncio
import logging
import time

from serving.experiments.outcome_store import OutcomeStore
from serving.experiments.outcomes import (
    Failed, FeedbackRejected, FeedbackResult, Rejection, Served, StoreDown,
)
from serving.playlist_ids import is_fresh
from serving.store.base import StoreUnavailableError
from serving.store.config import WriterConfig
from serving.store.writer import BatchWriter

log = logging.getLogger(__name__)

# A playlist's record is sent off the live path just before its response; feedback that
# overtakes it (another Ingress replica, a fast client) waits this long for it to land.
FEEDBACK_WAIT_S = 2.0
# A playlist issued this recently whose record is not in the store yet may still be on its way
# (its write is retried onto a restarted store replica): "not yet" (503 + Retry-After), not
# "never" (404). Older unknown ids get 404 at once.
PENDING_WINDOW_S = 60.0


class OutcomeService:
    def __init__(self, store: OutcomeStore, writer: WriterConfig | None = None, feedback_wait_s: float = FEEDBACK_WAIT_S,
                 metrics=None):
        self.store = store
        self._metrics = metrics
        backend = store.db.dialect
        self.writer = BatchWriter(
            store.db, writer,
            on_commit=lambda kinds, s: metrics and metrics.store_commit(backend, kinds, s),
            on_drop=lambda kind, n: metrics and metrics.store_write(kind, "dropped", n),
        )
        self.feedback_wait_s = feedback_wait_s
        self._in_flight: set[str] = set()  # playlist ids submitted and not yet committed
        self._next_sweep = 0.0

    async def _write(self, op, kind: str):
        self._maybe_sweep()
        return await self.writer.submit(op, kind)

    def _maybe_sweep(self) -> None:
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.store.retention.sweep_interval_s

        async def sweep() -> None:
            try:
                out = await self.writer.submit(self.store.sweep_op(), "sweep")
                if any(out.values()):
                    log.info("store retention removed %s", out)
            except StoreUnavailableError:
                pass  # counted by the writer; the next sweep catches up

        asyncio.get_running_loop().create_task(sweep())

    async def record_served(self, rec: Served) -> bool:
        """True once committed; False if the store dropped it (counted and logged there)."""
        self._in_flight.add(rec.playlist_id)
        try:
            await self._write(self.store.served_op(rec), "served")  # False (a retried duplicate) is fine too
            return True
        except StoreUnavailableError:
            return False
        finally:
            self._in_flight.discard(rec.playlist_id)

    async def record_failed(self, rec: Failed) -> bool:
        try:
            await self._write(self.store.failed_op(rec), "failed")
            return True
        except StoreUnavailableError:
            return False

    async def record_shadow(self, experiment_id: str, ok: bool, overlap: float, latency_ms: float, dropped: bool) -> bool:
        try:
            await self._write(self.store.shadow_op(experiment_id, ok, overlap, latency_ms, dropped), "shadow")
            return True
        except StoreUnavailableError:
            return False

    async def _known(self, playlist_id: str) -> bool:
        if playlist_id in self._in_flight:
            return True
        return await asyncio.to_thread(self.store.knows, playlist_id)

    async def feedback(self, playlist_id: str, track_id: str, event: str) -> FeedbackResult:
        """Validated against the served playlist and acknowledged only once committed."""
        loop = asyncio.get_running_loop()
        # Only a playlist issued moments ago can still be in flight: anything else (stale,
        # made up, not ours) is answered at once, so unknown ids cannot hold requests open.
        wait = self.feedback_wait_s if is_fresh(playlist_id, within_s=self.feedback_wait_s + 3) else 0.0
        deadline = loop.time() + wait
        try:
            known = await self._known(playlist_id)
            while not known and loop.time() < deadline:
                await asyncio.sleep(0.05)
                known = await self._known(playlist_id)
            if not known and is_fresh(playlist_id, within_s=PENDING_WINDOW_S):
                return FeedbackRejected(Rejection.NOT_YET_RECORDED,
                                        f"playlist '{playlist_id}' was served moments ago and is not recorded yet; "
                                        "retry shortly")
            result = await self._write(self.store.feedback_op(playlist_id, track_id, event), "feedback")
        except StoreUnavailableError as e:
            return FeedbackRejected(Rejection.STORE_UNAVAILABLE, f"feedback was not recorded: {e}; retry shortly")
        return result

    async def summary(self, experiment_id: str, control: str | None) -> dict | None | StoreDown:
        try:
            return await asyncio.to_thread(self.store.summary, experiment_id, control)
        except StoreUnavailableError as e:
            return StoreDown(f"the experiment store is unavailable: {e}; retry shortly")

    def stats(self) -> dict:
        return {"backend": self.store.db.describe(), "pending": self.writer.pending, **self.writer.stats.as_dict()}

    async def close(self) -> None:
        await self.writer.close()
