"""Retrieval: intent -> top-K candidates, with the intent's filters applied.

Pure logic over a loaded catalog, an embedder and a vector index; the Ray Serve
deployment is a thin adapter around it.
"""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np

from serving.catalog.loader import Catalog
from serving.intent.model import Intent
from serving.retrieval.embedder import Embedder
from serving.retrieval.index import VectorIndex
from serving.schemas import Candidate, Track


def norm(s: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s&]", " ", s.lower())).strip()


class Retriever:
    def __init__(self, catalog: Catalog, embedder: Embedder, index: VectorIndex, overfetch: int = 3):
        self.catalog = catalog
        self.embedder = embedder
        self.index = index
        self._overfetch = overfetch
        self._by_artist: dict[str, list[int]] = defaultdict(list)
        for i, t in enumerate(catalog.tracks):
            for a in t.artists:
                self._by_artist[norm(a)].append(i)

    @property
    def versions(self) -> dict[str, str]:
        return {"embedder": self.embedder.version, "index": self.index.version, "catalog": self.catalog.version}

    def artist_names(self) -> list[str]:
        """Canonical artist names, for intent parsers that recognise artists."""
        seen: dict[str, str] = {}
        for t in self.catalog.tracks:
            for a in t.artists:
                seen.setdefault(norm(a), a)
        return list(seen.values())

    def embed_query(self, intent: Intent) -> np.ndarray:
        return self.embedder.encode([intent.query_text()])[0]

    def search(self, intent: Intent, k: int) -> list[Candidate]:
        q = self.embed_query(intent)
        return self.search_vector(intent, q, k)

    def search_vector(self, intent: Intent, q: np.ndarray, k: int) -> list[Candidate]:
        scores: dict[int, float] = {}
        # Tracks by artists the listener named are candidates whatever their text
        # similarity: "songs from Lojay" must reach the ranker even if the titles
        # say nothing about the prompt.
        for a in intent.include_artists:
            for i in self._by_artist.get(norm(a), ()):
                scores[i] = float(self.index.vectors[i] @ q)
        fetch = k * self._overfetch
        while True:
            s, ids = self.index.search(q, fetch)
            for score, i in zip(s.tolist(), ids.tolist()):
                scores.setdefault(int(i), float(score))
            kept = [i for i in scores if self._passes(intent, self.catalog.tracks[i])]
            if len(kept) >= k or fetch >= self.index.index.ntotal:
                break
            fetch = min(fetch * 4, self.index.index.ntotal)  # filters ate too much: widen the net
        kept.sort(key=lambda i: -scores[i])
        return [
            Candidate(track=self.catalog.tracks[i], dense_score=scores[i], retrieval_rank=r)
            for r, i in enumerate(kept[:k])
        ]

    @staticmethod
    def _passes(intent: Intent, t: Track) -> bool:
        if intent.exclude_artists:
            artists = {norm(a) for a in t.artists}
            if any(norm(x) in artists for x in intent.exclude_artists):
                return False
        if intent.exclude_terms:
            text = norm(f"{t.title} {t.album or ''} {' '.join(t.tags)}")
            if any(re.search(rf"\b{re.escape(norm(x))}", text) for x in intent.exclude_terms if norm(x)):
                return False
        if intent.era and t.year is not None:  # unknown years pass: the catalog may not know them
            if not intent.era.start <= t.year <= intent.era.end:
                return False
        return True
