"""Sessions over a store: validation against the API's rules, TTL, turn limit, sticky arm.

The engine (serving/sessions/engine.py) does the music; this layer decides whether a
turn may happen, gives it the session's arm (sticky for the session's whole life, whatever
the experiment weights are now), and persists the new state before answering, so a
replica restart loses nothing.
"""

from __future__ import annotations

import abc
import time
import uuid
from typing import Callable

from serving.config import SessionsConfig
from serving.errors import Conflict, InvalidRequest, NotFound
from serving.playlist_note import shortfall_note
from serving.schemas import RequestContext
from serving.sessions.engine import SessionEngine, TurnOutcome
from serving.sessions.schemas import SessionHistory, SessionRequest, SessionResponse, TurnRequest
from serving.sessions.state import DialogState


class SessionRepository(abc.ABC):
    """Where dialog states live (the app's one store: SQLite embedded, PostgreSQL in clusters)."""

    @abc.abstractmethod
    async def get(self, session_id: str) -> DialogState | None: ...

    @abc.abstractmethod
    async def put(self, state: DialogState, expected_turns: int) -> bool:
        """Write `state` if the stored one has `expected_turns` turns (0 = new); False if another
        turn got there first."""

    @abc.abstractmethod
    async def purge(self, expired_before: float, keep: int) -> int:
        """Drop sessions last updated before `expired_before`, and the least recently updated
        past `keep`; returns how many went."""


def new_session_id() -> str:
    return "s_" + uuid.uuid4().hex


class SessionService:
    def __init__(self, engine: SessionEngine, repo: SessionRepository, config: SessionsConfig,
                 clock: Callable[[], float] = time.time, purge_every_s: float = 60.0):
        self.engine = engine
        self.repo = repo
        self.config = config
        self.clock = clock
        self._purge_every_s = purge_every_s
        self._last_purge = 0.0

    def _expires(self, state: DialogState) -> float:
        return state.updated_at + self.config.ttl_s

    async def _load(self, session_id: str) -> DialogState:
        state = await self.repo.get(session_id)
        if state is None:
            raise NotFound(f"session '{session_id}' does not exist; start one with POST /v1/sessions")
        if self._expires(state) < self.clock():
            raise NotFound(f"session '{session_id}' expired (sessions live {self.config.ttl_s:g}s after their "
                           "last turn); start a new one with POST /v1/sessions")
        return state

    async def _check_tracks(self, body: TurnRequest) -> None:
        n = len(body.liked) + len(body.disliked)
        if n > self.config.max_feedback:
            raise InvalidRequest(f"liked + disliked name {n} tracks; at most {self.config.max_feedback} per turn")
        for field, ids in (("liked", body.liked), ("disliked", body.disliked)):
            unknown = await self.engine.stages.unknown_tracks(ids)
            if unknown:
                i = ids.index(unknown[0])
                raise InvalidRequest(f"{field}[{i}]: track '{unknown[0]}' is not in the catalog; use a track_id "
                                     "from a playlist or from POST /v1/search")

    async def _maybe_purge(self) -> None:
        now = self.clock()
        if now - self._last_purge >= self._purge_every_s:
            self._last_purge = now
            await self.repo.purge(now - self.config.ttl_s, self.config.max_sessions)

    def _response(self, out: TurnOutcome, ctx: RequestContext) -> SessionResponse:
        s = out.state
        return SessionResponse(
            session_id=s.session_id, turn=s.turn, request_id=ctx.request_id, trace_id=ctx.trace_id, arm=s.arm,
            experiment_id=s.experiment_id, playlist=out.tracks, intent=s.intent, edits=list(out.edits),
            liked=s.liked, disliked=s.disliked, turns_left=max(0, self.config.max_turns - len(s.turns)),
            expires_at=self._expires(s), versions=out.versions, note=shortfall_note(s.intent, s.length, len(out.tracks)),
        )

    async def create(self, body: SessionRequest, ctx: RequestContext) -> SessionResponse:
        """`ctx` carries the arm assigned for this listener; the session keeps it."""
        sid = new_session_id()
        ctx = _with(ctx, session_id=sid, turn=0)
        out = await self.engine.start_outcome(body.prompt, body.length, ctx, sid, body.user_id,
                                              length_explicit="length" in body.model_fields_set)
        if not await self.repo.put(out.state, 0):
            raise Conflict(f"session id {sid} already exists; retry")
        await self._maybe_purge()
        return self._response(out, ctx)

    def turn_context(self, state: DialogState, ctx: RequestContext) -> RequestContext:
        """The stored arm, never a fresh assignment: a session does not change arms mid-conversation."""
        return _with(ctx, arm=state.arm, experiment_id=state.experiment_id, arm_key=state.arm_key,
                     session_id=state.session_id, turn=len(state.turns))

    async def load_for_turn(self, session_id: str, body: TurnRequest) -> DialogState:
        state = await self._load(session_id)
        if len(state.turns) >= self.config.max_turns:
            raise Conflict(f"session '{session_id}' has reached its limit of {self.config.max_turns} turns; "
                           "start a new session with POST /v1/sessions")
        await self._check_tracks(body)
        return state

    async def turn(self, state: DialogState, body: TurnRequest, ctx: RequestContext) -> SessionResponse:
        out = await self.engine.turn_outcome(state, body.message, body.liked, body.disliked, body.length, ctx)
        if not await self.repo.put(out.state, len(state.turns)):
            raise Conflict(f"another turn of session '{state.session_id}' was answered meanwhile; "
                           f"GET /v1/sessions/{state.session_id} and retry")
        await self._maybe_purge()
        return self._response(out, ctx)

    async def history(self, session_id: str) -> SessionHistory:
        s = await self._load(session_id)
        return SessionHistory(
            session_id=s.session_id, user_id=s.user_id, arm=s.arm, experiment_id=s.experiment_id,
            created_at=s.created_at, updated_at=s.updated_at, expires_at=self._expires(s), intent=s.intent,
            liked=s.liked, disliked=s.disliked, kept=s.kept, turns=s.turns,
        )


def _with(ctx: RequestContext, **kw) -> RequestContext:
    from dataclasses import replace

    return replace(ctx, **kw)
