"""Results that travel between stages, and the Stages interface the pipeline runs on.

Two implementations: in-process objects (evaluation, benchmarks, unit tests) and
Ray Serve handles (the served graph). Same pipeline code either way. Stages are
batch-native: a single request is a batch of one.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

from serving.intent.model import Intent
from serving.intent.service import IntentResult
from serving.schemas import CandidateSet, Feedback, RankedTrack, RequestContext

Mode = Literal["playlist", "search"]


@dataclass(frozen=True)
class RetrievalResult:
    candidates: CandidateSet
    versions: dict[str, str]


@dataclass(frozen=True)
class RankResult:
    tracks: list[RankedTrack]
    n_candidates: int
    versions: dict[str, str]


@dataclass(frozen=True)
class StageItem:
    """One request of a retrieve-and-rank batch. The query vector comes from the IntentModel
    (None: the stage embeds, for callers that have none)."""

    intent: Intent
    k: int
    length: int
    mode: Mode
    ctx: RequestContext
    query_vector: np.ndarray | None = None
    vector_embedder: str | None = None




class Stages(abc.ABC):
    """Implement the batch methods, or the single ones (each defaults to the other)."""

    async def intent(self, prompt: str, ctx: RequestContext) -> IntentResult:
        return (await self.intent_batch([prompt], [ctx]))[0]

    async def intent_batch(self, prompts: Sequence[str], ctxs: Sequence[RequestContext]) -> list[IntentResult]:
        return [await self.intent(p, c) for p, c in zip(prompts, ctxs)]

    async def retrieve_and_rank(self, intent: Intent, k: int, length: int, mode: Mode, ctx: RequestContext) -> RankResult:
        return (await self.retrieve_and_rank_batch([StageItem(intent, k, length, mode, ctx)]))[0]

    async def retrieve_and_rank_batch(self, items: Sequence[StageItem]) -> list[RankResult]:
        return [await self.retrieve_and_rank(it.intent, it.k, it.length, it.mode, it.ctx) for it in items]

    # --- sessions (serving/sessions/engine.py) ---------------------------------------------------
    async def update_intent(self, previous: Intent, message: str, ctx: RequestContext):
        """A session turn: (IntentResult, EditResult) for the previous intent refined by `message`."""
        raise NotImplementedError(f"{type(self).__name__} does not serve sessions")

    async def retrieve_and_rank_feedback(self, intent: Intent, k: int, length: int, ctx: RequestContext,
                                         feedback: Feedback) -> RankResult:
        """A session turn's playlist: retrieval and ranking that use the listener's feedback."""
        raise NotImplementedError(f"{type(self).__name__} does not serve sessions")

    async def unknown_tracks(self, track_ids: list[str]) -> list[str]:
        """The ids that are not in the catalog, in order."""
        raise NotImplementedError(f"{type(self).__name__} does not serve sessions")

    @abc.abstractmethod
    async def ready(self) -> tuple[bool, str]: ...
