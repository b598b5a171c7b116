"""A model-free reference judge: the rubric's criteria approximated with sentence embeddings.

Not an LLM and not a stand-in for one: it is the cheap, deterministic judge this
CPU machine can always run, used to exercise `segue judge` end to end and as a
floor that an LLM judge's agreement with human ground truth should beat.
"""

from __future__ import annotations

import numpy as np

from serving.evaluation.judging.base import Judge, PairVerdict, PlaylistItem, Verdict
from serving.retrieval.embedder import Embedder


def _scale(x: float, lo: float, hi: float) -> int:
    return int(np.clip(round(1 + 4 * (x - lo) / (hi - lo)), 1, 5))


class EmbeddingReferenceJudge(Judge):
    name = "embedding-reference-v1"

    def __init__(self, embedder: Embedder):
        self.embedder = embedder

    def _raw(self, prompt: str, playlist: list[PlaylistItem]) -> tuple[float, float, float]:
        if not playlist:
            return 0.0, 0.0, 0.0
        vecs = self.embedder.encode([t.line() for t in playlist])
        q = self.embedder.encode([prompt])[0]
        fulfil = float((vecs @ q).mean())
        sims = vecs @ vecs.T
        n = len(playlist)
        coherence = float((sims.sum() - n) / (n * (n - 1))) if n > 1 else 1.0
        leads = {t.artists[0].lower() if t.artists else "" for t in playlist}
        variety = len(leads) / n
        return fulfil, coherence, variety

    def overall_raw(self, prompt: str, playlist: list[PlaylistItem]) -> float:
        f, c, v = self._raw(prompt, playlist)
        return 0.7 * f + 0.2 * c + 0.1 * v * 0.5

    async def score(self, prompt: str, playlist: list[PlaylistItem]) -> Verdict:
        f, c, v = self._raw(prompt, playlist)
        overall = _scale(0.7 * f + 0.2 * c + 0.05 * v, 0.05, 0.45)
        return Verdict(fulfilment=_scale(f, 0.05, 0.45), coherence=_scale(c, 0.1, 0.6), variety=_scale(v, 0.2, 1.0),
                       overall=overall, rationale=f"mean prompt similarity {f:.2f}, mean pairwise {c:.2f}, artist spread {v:.2f}")

    async def compare(self, prompt: str, a: list[PlaylistItem], b: list[PlaylistItem]) -> PairVerdict:
        sa, sb = self.overall_raw(prompt, a), self.overall_raw(prompt, b)
        winner = "tie" if abs(sa - sb) < 0.005 else ("A" if sa > sb else "B")
        return PairVerdict(winner=winner, rationale=f"embedding score A {sa:.3f} vs B {sb:.3f}")
