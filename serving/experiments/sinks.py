"""OutcomeSink implementations: a Serve handle to the shared OutcomeStore deployment, or an
in-process store (tests, single-process tools)."""

from __future__ import annotations

from serving.experiments.outcomes import Failed, OutcomeStore, Served
from serving.experiments.runtime import OutcomeSink
from serving.experiments.store_deployment import feedback_with_wait


class HandleOutcomeSink(OutcomeSink):
    def __init__(self, handle):
        self._h = handle

    async def record_served(self, rec: Served) -> None:
        await self._h.record_served.remote(rec)

    async def record_failed(self, rec: Failed) -> None:
        await self._h.record_failed.remote(rec)

    async def record_shadow(self, experiment_id, ok, overlap, latency_ms, dropped) -> None:
        await self._h.record_shadow.remote(experiment_id, ok, overlap, latency_ms, dropped)

    async def feedback(self, playlist_id: str, track_id: str, event: str) -> dict:
        return await self._h.feedback.remote(playlist_id, track_id, event)

    async def summary(self, experiment_id: str, control: str | None) -> dict | None:
        return await self._h.summary.remote(experiment_id, control)


class LocalOutcomeSink(OutcomeSink):
    def __init__(self, store: OutcomeStore | None = None, feedback_wait_s: float = 0.0):
        self.store = store or OutcomeStore()
        self._wait = feedback_wait_s

    async def record_served(self, rec: Served) -> None:
        self.store.record_served(rec)

    async def record_failed(self, rec: Failed) -> None:
        self.store.record_failed(rec)

    async def record_shadow(self, experiment_id, ok, overlap, latency_ms, dropped) -> None:
        self.store.record_shadow(experiment_id, ok, overlap, latency_ms, dropped)

    async def feedback(self, playlist_id: str, track_id: str, event: str) -> dict:
        return await feedback_with_wait(self.store, playlist_id, track_id, event, self._wait)

    async def summary(self, experiment_id: str, control: str | None) -> dict | None:
        return self.store.summary(experiment_id, control)
