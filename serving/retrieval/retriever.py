"""Retrieval: intent -> top-K candidates, with the intent's filters applied.

Pure logic over a loaded catalog, an embedder and a vector index; the Ray Serve
deployment is a thin adapter around it.
"""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np

from serving.catalog.loader import Catalog
from serving.config import HybridConfig
from serving.intent.model import Intent
from serving.catalog.enrichment.artifact import Enrichment
from serving.retrieval.embedder import Embedder
from serving.retrieval.filters import admits, constraints, known_match

PREFER_KNOWN_MIN = 20  # known-to-fit candidates (a default playlist's worth) before unknown artists are left out
from serving.retrieval.index import VectorIndex
from serving.retrieval.lexical import LexicalIndex, fuse_rrf, fuse_weighted, normalise
from serving.schemas import Candidate, Track
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
        enrichment: Enrichment | None = None,
    ):
        self.catalog = catalog
        self.embedder = embedder
        self.index = index
        self._overfetch = overfetch
        self.hybrid = hybrid if lexical is not None and hybrid is not None and hybrid.enabled else None
        self.lexical = lexical if self.hybrid is not None else None
        self.enrichment = enrichment
        self._by_artist: dict[str, list[int]] = defaultdict(list)
        for i, t in enumerate(catalog.tracks):
            for a in t.artists:
                self._by_artist[norm(a)].append(i)

    @property
    def versions(self) -> dict[str, str]:
        v = {"embedder": self.embedder.version, "index": self.index.version, "catalog": self.catalog.version}
        if self.hybrid is not None:
            v["lexical"] = f"bm25-{self.hybrid.fusion}-{self.hybrid.weight:g}"
        if self.enrichment is not None:
            v["enrichment"] = self.enrichment.version
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
        c = constraints(intent, self.enrichment)
        if c.from_similar:
            # "songs like X": X's genres are part of what to look for.
            g = " ".join(x for x, w in c.genres.items() if w >= 1.0)
            q = self.embedder.encode([f"{intent.query_text()} {g}"])[0]
        else:
            q = self.embed_query(intent)
        return self.search_vector(intent, q, k)

    def admit(self, intent: Intent):
        """The predicate every candidate must pass for this intent (also used by rankers on borrowed ones)."""
        c = constraints(intent, self.enrichment)
        enr = self.enrichment
        return lambda t: self._passes(intent, t) and admits(c, t, enr)

    def search_vector(self, intent: Intent, q: np.ndarray, k: int) -> list[Candidate]:
        scores: dict[int, float] = {}
        c = constraints(intent, self.enrichment)
        ok = self.admit(intent)
        # Tracks by artists the listener named are candidates whatever their text
        # similarity: "songs from Lojay" must reach the ranker even if the titles
        # say nothing about the prompt. So are those of the artists "like X" points to.
        like = [a for a in intent.similar_artists if norm(a) not in {norm(x) for x in intent.exclude_artists}]
        for a in [*intent.include_artists, *like, *c.similar_names]:
            for i in self._by_artist.get(norm(a), ()):
                scores[i] = float(self.index.vectors[i] @ q)
        fetch = k * self._overfetch
        while True:
            s, ids = self.index.search(q, fetch)
            for score, i in zip(s.tolist(), ids.tolist()):
                scores.setdefault(int(i), float(score))
            kept = [i for i in scores if ok(self.catalog.tracks[i])]
            if len(kept) >= k or fetch >= self.index.index.ntotal:
                break
            fetch = min(fetch * 4, self.index.index.ntotal)  # filters ate too much: widen the net
        kept = self._prefer_known(c, kept, k)
        if self.lexical is None:
            kept.sort(key=lambda i: -scores[i])
            return [
                Candidate(track=self.catalog.tracks[i], dense_score=scores[i], retrieval_rank=r)
                for r, i in enumerate(kept[:k])
            ]
        return self._fuse(intent, q, scores, kept, k, ok)

    def _prefer_known(self, c, kept: list[int], k: int) -> list[int]:
        """With genres asked for and enough tracks by artists known to fit, artists the enrichment
        knows nothing about step aside: text similarity alone put them here ("k-pop" matching "K-Ci")."""
        if not c.genres or self.enrichment is None:
            return kept
        known = [i for i in kept if known_match(c, self.catalog.tracks[i], self.enrichment)]
        return known if len(known) >= min(k, PREFER_KNOWN_MIN) else kept

    def _fuse(self, intent: Intent, q: np.ndarray, scores: dict[int, float], kept: list[int], k: int,
              ok) -> list[Candidate]:
        assert self.lexical is not None and self.hybrid is not None
        raw = self.lexical.scores(intent.query_text())
        lex = normalise(raw)
        hits = self.lexical.search_scores(raw, self.hybrid.lexical_k)
        pool = list(dict.fromkeys(kept))
        have = set(pool)
        for i in hits.tolist():
            if i not in have and ok(self.catalog.tracks[i]):
                scores[i] = float(self.index.vectors[i] @ q)
                pool.append(i)
                have.add(i)
        pool = self._prefer_known(constraints(intent, self.enrichment), pool, k)
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
