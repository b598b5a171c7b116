"""The ranker interface: (intent, candidates, length) -> scored, diversified, sequenced playlist."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from serving.intent.model import Intent
from serving.schemas import Candidate, CandidateSet, RankedTrack, Track


@dataclass(frozen=True)
class RankItem:
    """One request of a ranking batch. `query_vector` is the request's embedding, computed once
    by the IntentModel; rankers that need it never embed the prompt again."""

    intent: Intent
    candidates: CandidateSet
    length: int
    mode: str = "playlist"
    query_vector: np.ndarray | None = None


class Ranker(abc.ABC):
    version: str

    @abc.abstractmethod
    def rank(
        self, intent: Intent, candidates: list[Candidate], length: int, mode: str = "playlist"
    ) -> list[RankedTrack]:
        """`playlist` diversifies and sequences; `search` returns the best matches in order."""

    def rank_batch(self, items: Sequence[RankItem], tracks: Sequence[Track]) -> list[list[RankedTrack]]:
        """Rank a batch; `tracks` are the catalog rows the candidate sets index. The default
        ranks each item on its own; vectorised rankers override it."""
        return [self.rank(it.intent, it.candidates.to_candidates(tracks), it.length, it.mode) for it in items]
