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
from serving.schemas import Candidate, RankedTrack, RequestContext

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
        self, intent: Intent, k: int, length: int, mode: Mode, ctx: RequestContext
    ) -> RankResult: ...

    @abc.abstractmethod
    async def ready(self) -> tuple[bool, str]: ...
