"""The session engine: one conversation turn = (dialog state, message, feedback) -> new state + playlist.

Transport-free like serving/pipeline.py: the HTTP ingress and `segue eval --turns all`
run this same code over different Stages. Storage and validation of ids against the
API's limits live in the caller (serving/sessions/service.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from serving.config import AppConfig
from serving.intent.edits import EditResult
from serving.intent.service import IntentResult
from serving.schemas import Feedback, RankedTrack, RequestContext
from serving.sessions.state import DialogState, TurnRecord
from serving.stages import StageItem, Stages


@dataclass(frozen=True)
class TurnOutcome:
    state: DialogState
    tracks: list[RankedTrack]
    versions: dict[str, str]
    edits: tuple[str, ...] = ()


def _add(items: list[str], new: list[str]) -> list[str]:
    return list(dict.fromkeys([*items, *new]))


class SessionEngine:
    def __init__(self, stages: Stages, config: AppConfig, clock: Callable[[], float] = time.time):
        self.stages = stages
        self.config = config
        self.clock = clock

    def _k(self, length: int) -> int:
        return max(self.config.retrieval.top_k, 5 * length)

    async def start(self, prompt: str, length: int, ctx: RequestContext, session_id: str,
                    user_id: str | None = None, length_explicit: bool = True) -> tuple[DialogState, list[RankedTrack]]:
        out = await self.start_outcome(prompt, length, ctx, session_id, user_id, length_explicit)
        return out.state, out.tracks

    async def start_outcome(self, prompt: str, length: int, ctx: RequestContext, session_id: str,
                            user_id: str | None = None, length_explicit: bool = True) -> TurnOutcome:
        ir = await self.stages.intent(prompt, ctx)
        if not length_explicit and ir.intent.length is not None:
            length = ir.intent.length
        item = StageItem(ir.intent, self._k(length), length, "playlist", ctx, ir.query_vector, ir.vector_embedder)
        rr = (await self.stages.retrieve_and_rank_batch([item]))[0]
        now = self.clock()
        ids = [t.track_id for t in rr.tracks]
        state = DialogState(
            session_id=session_id, user_id=user_id, arm=ctx.arm, experiment_id=ctx.experiment_id,
            arm_key=ctx.arm_key, created_at=now, updated_at=now, length=length, intent=ir.intent,
            shown=ids,
            turns=[TurnRecord(turn=0, message=prompt, intent=ir.intent, tracks=ids, trace_id=ctx.trace_id, at=now)],
        )
        return TurnOutcome(state, rr.tracks, {**ir.versions, **rr.versions})

    async def turn(self, state: DialogState, message: str | None, liked: list[str], disliked: list[str],
                   length: int | None, ctx: RequestContext) -> tuple[DialogState, list[RankedTrack]]:
        out = await self.turn_outcome(state, message, liked, disliked, length, ctx)
        return out.state, out.tracks

    async def turn_outcome(self, state: DialogState, message: str | None, liked: list[str], disliked: list[str],
                           length: int | None, ctx: RequestContext) -> TurnOutcome:
        length = length or state.length
        # A track disliked now leaves the liked/kept lists; one liked now is forgiven its dislike.
        liked_all = [t for t in _add(state.liked, liked) if t not in disliked]
        disliked_all = [t for t in _add(state.disliked, disliked) if t not in liked]
        kept = [t for t in state.kept if t not in disliked_all]
        intent, versions, edits = state.intent, {}, ()
        if message:
            ir, ed = await self.stages.update_intent(state.intent, message, ctx)
            intent, versions, edits = ir.intent, dict(ir.versions), ed.ops
            if ed.keep_first:
                kept = _add(kept, [t for t in state.last_tracks[: ed.keep_first] if t not in disliked_all])
            if ed.anchors:  # "something like <track>": the named track counts as liked
                liked_all = _add(liked_all, [t for t in ed.anchors if t not in disliked_all])
        feedback = Feedback(liked=tuple(liked_all), disliked=tuple(disliked_all), keep=tuple(kept))
        rr = await self.stages.retrieve_and_rank_feedback(intent, self._k(length + len(feedback.pinned)), length,
                                                          ctx, feedback)
        now = self.clock()
        ids = [t.track_id for t in rr.tracks]
        turn = TurnRecord(turn=len(state.turns), message=message, liked=list(liked), disliked=list(disliked),
                          intent=intent, edits=list(edits), tracks=ids, trace_id=ctx.trace_id, at=now)
        new = state.model_copy(update={
            "intent": intent, "liked": liked_all, "disliked": disliked_all, "kept": kept,
            "shown": _add(state.shown, ids), "turns": [*state.turns, turn], "updated_at": now, "length": length,
        })
        return TurnOutcome(new, rr.tracks, {**versions, **rr.versions}, tuple(edits))
