"""Results that travel between stages, and the Stages interface the pipeline runs on.

Two implementations: in-process objects (evaluation, benchmarks, unit tests) and
Ray Serve handles (the served graph). Same pipeline code either way.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Literal

from serving.intent.model import Intent
from serving.intent.service import IntentResult
from serving.schemas import Candidate, Feedback, RankedTrack, RequestContext

Mode = Literal["playlist", "search"]


@dataclass(frozen=True)
class RetrievalResult:
    candidates: list[Candidate]
    versions: dict[str, str]


@dataclass(frozen=True)
class RankResult:
    tracks: list[RankedTrack]
    n_candidates: int
    versions: dict[str, str]


class Stages(abc.ABC):
    @abc.abstractmethod
    async def intent(self, prompt: str, ctx: RequestContext) -> IntentResult: ...

    @abc.abstractmethod
    async def retrieve_and_rank(
        self, intent: Intent, k: int, length: int, mode: Mode, ctx: RequestContext, feedback: Feedback | None = None
    ) -> RankResult: ...

    async def update_intent(self, previous: Intent, message: str, ctx: RequestContext):
        """A session turn: (IntentResult, EditResult) for the previous intent refined by `message`."""
        raise NotImplementedError(f"{type(self).__name__} does not serve sessions")

    async def unknown_tracks(self, track_ids: list[str]) -> list[str]:
        """The ids that are not in the catalog, in order."""
        raise NotImplementedError(f"{type(self).__name__} does not serve sessions")

    @abc.abstractmethod
    async def ready(self) -> tuple[bool, str]: ...
