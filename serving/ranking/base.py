"""The ranker interface: (intent, candidates, length) -> scored, diversified, sequenced playlist."""

from __future__ import annotations

import abc

from serving.intent.model import Intent
from serving.schemas import Candidate, RankedTrack


class Ranker(abc.ABC):
    version: str

    @abc.abstractmethod
    def rank(
        self, intent: Intent, candidates: list[Candidate], length: int, mode: str = "playlist"
    ) -> list[RankedTrack]:
        """`playlist` diversifies and sequences; `search` returns the best matches in order."""
