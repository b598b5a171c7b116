"""The OutcomeStore deployment: the experiment evidence every Ingress replica records into
and validates feedback against. A thin adapter over OutcomeService; the records themselves
live in the configured database (AppConfig.store), so a restarted replica, a drained node
or an upgrade keeps every served playlist and every acknowledged outcome.
"""

from __future__ import annotations

import asyncio
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
        from serving.sessions.store import SqlSessionRepository

        # Sessions share the database and its writer: one store, one schema (002_sessions.sql).
        self._sessions = SqlSessionRepository(db, self._svc.writer)

    async def record_served(self, rec: Served) -> bool:
        return await self._svc.record_served(rec)

    async def record_served_batch(self, recs: list[Served]) -> list[bool]:
        # Submitted together, committed together by the writer's group commit.
        return list(await asyncio.gather(*(self._svc.record_served(r) for r in recs)))

    async def record_failed(self, rec: Failed) -> bool:
        return await self._svc.record_failed(rec)

    async def record_shadow(self, experiment_id: str, ok: bool, overlap: float, latency_ms: float, dropped: bool) -> bool:
        return await self._svc.record_shadow(experiment_id, ok, overlap, latency_ms, dropped)

    async def feedback(self, playlist_id: str, track_id: str, event: str) -> FeedbackResult:
        return await self._svc.feedback(playlist_id, track_id, event)

    async def summary(self, experiment_id: str, control: str | None) -> dict | None | StoreDown:
        return await self._svc.summary(experiment_id, control)

    async def session_get(self, session_id: str) -> str | None:
        state = await self._sessions.get(session_id)
        return state.model_dump_json() if state is not None else None

    async def session_put(self, state_json: str, expected_turns: int) -> bool:
        from serving.sessions.state import DialogState

        return await self._sessions.put(DialogState.model_validate_json(state_json), expected_turns)

    async def session_purge(self, expired_before: float, keep: int) -> int:
        return await self._sessions.purge(expired_before, keep)

    def stats(self) -> dict:
        return self._svc.stats()
