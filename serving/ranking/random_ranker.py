"""random-v1: a deliberately BROKEN ranker, registered only as a test fixture.

It returns random candidates in random order, ignoring scores. It exists so that
rollback paths (the rollout controller, scripts/simulate-ab) can be exercised with
a canary that is really worse. Never make it a default or a control arm.
"""

from __future__ import annotations

import hashlib
import random

from serving.intent.model import Intent
from serving.ranking.base import Ranker
from serving.schemas import Candidate, RankedTrack


class RandomRanker(Ranker):
    def __init__(self, version: str = "random-v1"):
        self.version = version

    def rank(self, intent: Intent, candidates: list[Candidate], length: int, mode: str = "playlist") -> list[RankedTrack]:
        # Seeded by the query so that one prompt gives one answer (like a real ranker would).
        seed = int.from_bytes(hashlib.sha256(intent.query_text().encode()).digest()[:8], "big")
        picked = random.Random(seed).sample(candidates, min(length, len(candidates)))
        return [
            RankedTrack(track_id=c.track.track_id, title=c.track.title, artists=list(c.track.artists),
                        album=c.track.album, score=0.0, reason="random pick (random-v1 test fixture)")
            for c in picked
        ]
