"""OutcomeSink implementations: a Serve handle to the shared OutcomeStore deployment, or an
in-process OutcomeService (tests, single-process tools)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from serving.experiments.outcome_service import OutcomeService
from serving.experiments.outcome_store import OutcomeStore
from serving.experiments.outcomes import FeedbackAccepted, Failed, FeedbackResult, Served, StoreDown
from serving.experiments.runtime import OutcomeSink
from serving.store.config import WriterConfig

log = logging.getLogger(__name__)

# A call that reached a replica which then died (kill -9, OOM, node drain) is repeated on
# the replacement: served records and feedback are idempotent in the store (keyed by
# playlist id and by (playlist, track, event)), so a repeat never double-counts. Retries are
# frequent (a served record must land before the feedback that follows it stops waiting)
# and span ~30 s: Serve notices the death and starts a new replica within that.
RETRY_DELAYS_S = (0.1, 0.25, 0.5) + (1.0,) * 30


def _replica_died(exc: BaseException) -> bool:
    try:
        from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError
    except ImportError:
        return False
    return isinstance(exc, (ActorDiedError, ActorUnavailableError, RayActorError))


class HandleOutcomeSink(OutcomeSink):
    def __init__(self, handle, retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S):
        self._h = handle
        self._delays = retry_delays_s

    async def _call(self, method: str, *args, idempotent: bool, repeated: list | None = None):
        """`repeated` (a list) gets an entry for every repeat after a replica death."""
        for delay in (*self._delays, None) if idempotent else (None,):
            try:
                return await getattr(self._h, method).remote(*args)
            except Exception as e:  # noqa: BLE001 - only a dead replica is retried; the rest propagates
                if delay is None or not _replica_died(e):
                    raise
                log.warning("OutcomeStore replica died during %s; retrying in %.2fs", method, delay)
                if repeated is not None:
                    repeated.append(method)
                await asyncio.sleep(delay)

    async def record_served(self, rec: Served) -> None:
        await self._call("record_served", rec, idempotent=True)

    async def record_served_batch(self, recs: list[Served]) -> None:
        await self._call("record_served_batch", recs, idempotent=True)

    async def record_failed(self, rec: Failed) -> None:
        await self._call("record_failed", rec, idempotent=False)

    async def record_shadow(self, experiment_id, ok, overlap, latency_ms, dropped) -> None:
        await self._call("record_shadow", experiment_id, ok, overlap, latency_ms, dropped, idempotent=False)

    async def feedback(self, playlist_id: str, track_id: str, event: str) -> FeedbackResult:
        repeated: list = []
        res = await self._call("feedback", playlist_id, track_id, event, idempotent=True, repeated=repeated)
        # The first try may have committed just before its replica died: the repeat then finds
        # the row and says "duplicate", yet this request is what put it there (and nobody was
        # told so). The row is there once either way; only the acknowledgement is corrected.
        if repeated and isinstance(res, FeedbackAccepted) and not res.counted:
            return replace(res, counted=True)
        return res

    async def summary(self, experiment_id: str, control: str | None) -> dict | None | StoreDown:
        return await self._call("summary", experiment_id, control, idempotent=True)


class LocalOutcomeSink(OutcomeSink):
    def __init__(self, store: OutcomeStore | None = None, feedback_wait_s: float = 0.0,
                 writer: WriterConfig | None = None):
        self.store = store or OutcomeStore()
        self.service = OutcomeService(self.store, writer or WriterConfig(flush_interval_ms=0), feedback_wait_s)

    async def record_served(self, rec: Served) -> None:
        await self.service.record_served(rec)

    async def record_failed(self, rec: Failed) -> None:
        await self.service.record_failed(rec)

    async def record_shadow(self, experiment_id, ok, overlap, latency_ms, dropped) -> None:
        await self.service.record_shadow(experiment_id, ok, overlap, latency_ms, dropped)

    async def feedback(self, playlist_id: str, track_id: str, event: str) -> FeedbackResult:
        return await self.service.feedback(playlist_id, track_id, event)

    async def summary(self, experiment_id: str, control: str | None) -> dict | None | StoreDown:
        return await self.service.summary(experiment_id, control)
