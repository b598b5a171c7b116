"""Retrieval: intent -> top-K candidates, with the intent's filters applied.

Pure logic over a loaded catalog, an embedder and a vector index; the Ray Serve
deployment is a thin adapter around it.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from serving.catalog.loader import Catalog
from serving.config import HybridConfig
from serving.intent.model import Intent
from serving.retrieval.embedder import Embedder
from serving.retrieval.filters import passes_filters
from serving.retrieval.index import VectorIndex
from serving.retrieval.lexical import LexicalIndex, fuse_rrf, fuse_weighted, normalise
from serving.schemas import Candidate
from serving.text import norm


class Retriever:
    def __init__(
        self,
        catalog: Catalog,
        embedder: Embedder,
        index: VectorIndex,
        overfetch: int = 3,
        lexical: LexicalIndex | None = None,
        hybrid: HybridConfig | None = None,
    ):
        self.catalog = catalog
        self.embedder = embedder
        self.index = index
        self._overfetch = overfetch
        self.hybrid = hybrid if lexical is not None and hybrid is not None and hybrid.enabled else None
        self.lexical = lexical if self.hybrid is not None else None
        self._by_artist: dict[str, list[int]] = defaultdict(list)
        for i, t in enumerate(catalog.tracks):
            for a in t.artists:
                self._by_artist[norm(a)].append(i)

    @property
    def versions(self) -> dict[str, str]:
        v = {"embedder": self.embedder.version, "index": self.index.version, "catalog": self.catalog.version}
        if self.hybrid is not None:
            v["lexical"] = f"bm25-{self.hybrid.fusion}-{self.hybrid.weight:g}"
        return v

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
            kept = [i for i in scores if passes_filters(intent, self.catalog.tracks[i])]
            if len(kept) >= k or fetch >= self.index.index.ntotal:
                break
            fetch = min(fetch * 4, self.index.index.ntotal)  # filters ate too much: widen the net
        if self.lexical is None:
            kept.sort(key=lambda i: -scores[i])
            return [
                Candidate(track=self.catalog.tracks[i], dense_score=scores[i], retrieval_rank=r)
                for r, i in enumerate(kept[:k])
            ]
        return self._fuse(intent, q, scores, kept, k)

    def _fuse(self, intent: Intent, q: np.ndarray, scores: dict[int, float], kept: list[int], k: int) -> list[Candidate]:
        assert self.lexical is not None and self.hybrid is not None
        raw = self.lexical.scores(intent.query_text())
        lex = normalise(raw)
        hits = self.lexical.search_scores(raw, self.hybrid.lexical_k)
        pool = list(dict.fromkeys(kept))
        have = set(pool)
        for i in hits.tolist():
            if i not in have and passes_filters(intent, self.catalog.tracks[i]):
                scores[i] = float(self.index.vectors[i] @ q)
                pool.append(i)
                have.add(i)
        ids = np.asarray(pool, dtype=np.int64)
        dense = np.asarray([scores[i] for i in pool], dtype=np.float32)
        if self.hybrid.fusion == "rrf":
            dense_rank = np.empty(len(ids), dtype=np.int64)
            dense_rank[np.argsort(-dense, kind="stable")] = np.arange(len(ids))
            lex_pos = {int(i): r for r, i in enumerate(hits.tolist())}
            lex_rank = np.asarray([lex_pos.get(int(i), -1) for i in ids], dtype=np.int64)
            fused = fuse_rrf(dense_rank, lex_rank, self.hybrid.weight)
        else:
            fused = fuse_weighted(dense, lex[ids], self.hybrid.weight)
        order = np.argsort(-fused, kind="stable")[:k]
        return [
            Candidate(track=self.catalog.tracks[int(ids[j])], dense_score=float(dense[j]),
                      lexical_score=float(lex[ids[j]]), retrieval_rank=r)
            for r, j in enumerate(order.tolist())
        ]
