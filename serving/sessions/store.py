"""Sessions in the app's one store (serving/store: SQLite embedded, PostgreSQL in clusters).

Table `sessions` comes from migration 002_sessions.sql. A turn's state is written through
the store's batching writer and acknowledged only after COMMIT, so an answered turn
survives any replica restart. Reads go straight to the database.
"""

from __future__ import annotations

import asyncio

from serving.sessions.service import SessionRepository
from serving.sessions.state import DialogState
from serving.store import Database, Tx
from serving.store.writer import BatchWriter

_INSERT = ("INSERT INTO sessions (session_id, user_key, arm, experiment_id, turns, state, created_at, updated_at) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id) DO NOTHING")
_UPDATE = "UPDATE sessions SET turns = ?, state = ?, updated_at = ? WHERE session_id = ? AND turns = ?"


class SqlSessionRepository(SessionRepository):
    def __init__(self, db: Database, writer: BatchWriter):
        self.db = db
        self.writer = writer

    def _get(self, session_id: str) -> DialogState | None:
        with self.db.transaction() as tx:
            row = tx.fetchone("SELECT state FROM sessions WHERE session_id = ?", (session_id,))
        return DialogState.model_validate_json(row[0]) if row else None

    async def get(self, session_id: str) -> DialogState | None:
        return await asyncio.to_thread(self._get, session_id)

    async def put(self, state: DialogState, expected_turns: int) -> bool:
        doc = state.model_dump_json()
        n = len(state.turns)

        def op(tx: Tx) -> bool:
            if expected_turns == 0:
                return tx.execute(_INSERT, (state.session_id, state.user_id, state.arm, state.experiment_id, n, doc,
                                            state.created_at, state.updated_at)) == 1
            return tx.execute(_UPDATE, (n, doc, state.updated_at, state.session_id, expected_turns)) == 1

        return await self.writer.submit(op, kind="session")

    async def purge(self, expired_before: float, keep: int) -> int:
        def op(tx: Tx) -> int:
            n = tx.execute("DELETE FROM sessions WHERE updated_at < ?", (expired_before,))
            row = tx.fetchone("SELECT updated_at FROM sessions ORDER BY updated_at DESC LIMIT 1 OFFSET ?", (keep,))
            if row is not None:  # bounded size: the least recently updated go past `keep`
                n += tx.execute("DELETE FROM sessions WHERE updated_at <= ?", (row[0],))
            return n

        return await self.writer.submit(op, kind="session_purge")


class HandleSessionRepository(SessionRepository):
    """The same repository behind the store deployment's handle (the Ingress side)."""

    def __init__(self, handle):
        self.handle = handle

    async def get(self, session_id: str) -> DialogState | None:
        doc = await self.handle.session_get.remote(session_id)
        return DialogState.model_validate_json(doc) if doc else None

    async def put(self, state: DialogState, expected_turns: int) -> bool:
        return await self.handle.session_put.remote(state.model_dump_json(), expected_turns)

    async def purge(self, expired_before: float, keep: int) -> int:
        return await self.handle.session_purge.remote(expired_before, keep)
