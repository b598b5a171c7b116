"""The OutcomeStore deployment: the experiment evidence every Ingress replica records into
and validates feedback against. A thin adapter over OutcomeService; the records themselves
live in the configured database (AppConfig.store), so a restarted replica, a drained node
or an upgrade keeps every served playlist and every acknowledged outcome.
"""

from __future__ import annotations

import logging

from serving.experiments.outcome_service import OutcomeService
from serving.experiments.outcome_store import OutcomeStore
from serving.experiments.outcomes import Failed, FeedbackResult, Served, StoreDown

log = logging.getLogger(__name__)


class OutcomeStoreDeployment:
    def __init__(self, config):
        from serving.metrics import default_metrics
        from serving.store import open_database

        store_cfg = config.store
        db = open_database(store_cfg)  # runs pending migrations before the first request
        log.info("outcome store on %s", db.describe())
        self._svc = OutcomeService(OutcomeStore(db, store_cfg.retention), store_cfg.writer, metrics=default_metrics())

    async def record_served(self, rec: Served) -> bool:
        return await self._svc.record_served(rec)

    async def record_failed(self, rec: Failed) -> bool:
        return await self._svc.record_failed(rec)

    async def record_shadow(self, experiment_id: str, ok: bool, overlap: float, latency_ms: float, dropped: bool) -> bool:
        return await self._svc.record_shadow(experiment_id, ok, overlap, latency_ms, dropped)

    async def feedback(self, playlist_id: str, track_id: str, event: str) -> FeedbackResult:
        return await self._svc.feedback(playlist_id, track_id, event)

    async def summary(self, experiment_id: str, control: str | None) -> dict | None | StoreDown:
        return await self._svc.summary(experiment_id, control)

    def stats(self) -> dict:
        return self._svc.stats()
