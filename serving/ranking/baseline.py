"""Baseline ranker: dense similarity plus intent matches, then diversity and sequencing."""

from __future__ import annotations

import re

from serving.intent.model import Intent
from serving.ranking.base import Ranker
from serving.ranking.diversity import artist_cap, keeps_caps, select_diverse, sequence
from serving.text import norm
from serving.schemas import Candidate, RankedTrack

ARTIST_BONUS = 0.25
TAG_BONUS = 0.05
LEXICAL_WEIGHT = 0.1


class BaselineRanker(Ranker):
    def __init__(
        self,
        version: str = "baseline-v1",
        max_per_artist: int = 2,
        artist_bonus: float = ARTIST_BONUS,
        tag_bonus: float = TAG_BONUS,
        lexical_weight: float = LEXICAL_WEIGHT,
    ):
        self.version = version
        self.max_per_artist = max_per_artist
        self.artist_bonus, self.tag_bonus, self.lexical_weight = artist_bonus, tag_bonus, lexical_weight

    def score(self, intent: Intent, c: Candidate) -> tuple[float, str]:
        t = c.track
        score = c.dense_score + self.lexical_weight * c.lexical_score
        why = [f"similar to '{intent.search_text[:40]}' ({c.dense_score:.2f})"]
        wanted = {norm(a) for a in intent.include_artists}
        hit = next((a for a in t.artists if norm(a) in wanted), None)
        if hit:
            score += self.artist_bonus
            why.insert(0, f"by {hit}, as asked")
        text = norm(f"{t.title} {t.album or ''} {' '.join(t.tags)}")
        tags = [g for g in (*intent.genres, *intent.moods, *intent.activities) if re.search(rf"\b{re.escape(norm(g))}\b", text)]
        if tags:
            score += self.tag_bonus * len(tags)
            why.append(f"tagged {', '.join(tags)}")
        return score, "; ".join(why)

    def rank(
        self, intent: Intent, candidates: list[Candidate], length: int, mode: str = "playlist"
    ) -> list[RankedTrack]:
        scored = sorted(((self.score(intent, c), c) for c in candidates), key=lambda x: -x[0][0])
        picked = select_diverse(
            scored,
            length,
            track_of=lambda x: x[1].track,
            max_per_artist=artist_cap(self.max_per_artist, length) if mode == "playlist" else length,
            uncapped_artists={a.lower() for a in intent.include_artists},
            relax=not keeps_caps(intent.similar_artists, mode),
        )
        ordered = sequence(picked, track_of=lambda x: x[1].track) if mode == "playlist" else picked
        return [
            RankedTrack(
                track_id=c.track.track_id,
                title=c.track.title,
                artists=list(c.track.artists),
                album=c.track.album,
                score=round(s, 4),
                reason=why,
            )
            for (s, why), c in ordered
        ]
