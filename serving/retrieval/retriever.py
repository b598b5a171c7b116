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
from serving.catalog.enrichment.artifact import Enrichment
from serving.retrieval import filters
from serving.retrieval.filters import admits, constraints, known_match, passes_filters
from serving.retrieval.index import VectorIndex
from serving.retrieval.lexical import LexicalIndex, fuse_rrf, fuse_weighted, normalise
from serving.schemas import Candidate, Feedback, FeedbackVectors, CandidateSet
from serving.text import norm

PREFER_KNOWN_MIN = 20  # known-to-fit candidates (a default playlist's worth) before unknown artists are left out


# Feedback expansion (sessions): neighbours borrowed per liked track, and the Rocchio weight
# of the liked centroid in a second query. Picked on CPCD train folds (docs/quality.md).
LIKED_NEIGHBOURS = 30
ROCCHIO_BETA = 0.7
# Once the listener has liked tracks, their likes say what fits better than the enrichment's genre
# profiles do: a session turn's text matches are no longer held to the genre / decade agreement
# (stand-in versions and the intent's own filters still are), and the feedback ranking orders them.
# CPCD turn CV: recall@100 0.344 -> 0.356, hit@100 0.832 -> 0.839; the second playlist of a session
# stays as coherent (off-genre@20 after 3 likes: dev 0.006 -> 0.011, fresh 0.029 -> 0.027; docs/quality.md).
LIKES_OVERRIDE_GENRE = True
NEAR_DUPLICATE_SIM = 0.95  # cosine to a disliked track at which a candidate is the same song again


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
        self.enrichment = enrichment  # catalog attributes (serving.catalog.enrichment): genre/era filters, "like X"
        self._by_artist: dict[str, list[int]] = defaultdict(list)
        self._pos: dict[str, int] = {}
        for i, t in enumerate(catalog.tracks):
            self._pos.setdefault(t.track_id, i)
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

    def admit(self, intent: Intent, relax: bool = False):
        """The predicate every candidate must pass for this intent: its hard filters and, with an
        enrichment, genre/era agreement (unless `relax`: LIKES_OVERRIDE_GENRE) and no stand-in
        versions unless asked for."""
        enr = None if relax else self.enrichment
        c = constraints(intent, enr)
        return lambda t: passes_filters(intent, t) and admits(c, t, enr)

    def _prefer_known(self, c, kept: list[int], k: int) -> list[int]:
        """With genres asked for and enough tracks by artists known to fit, artists the enrichment
        knows nothing about step aside: text similarity alone put them here ("k-pop" matching "K-Ci").
        With filters.PREFER_KNOWN_AS_HEAD (the default) they stay: the rankers fill the playlist's
        head with known ones first (`filters.known_head`), and `_known` keeps those in the pool."""
        if not c.genres or self.enrichment is None or filters.PREFER_KNOWN_AS_HEAD:
            return kept
        known = [i for i in kept if known_match(c, self.catalog.tracks[i], self.enrichment)]
        return known if len(known) >= min(k, PREFER_KNOWN_MIN) else kept

    def _known(self, c, ids: list[int]) -> set[int] | None:
        """PREFER_KNOWN_AS_HEAD: the candidates by artists known to fit, which the pool takes before
        any other (so unknown artists fill the pool's free places, never theirs)."""
        if c is None or not c.genres or self.enrichment is None or not filters.PREFER_KNOWN_AS_HEAD:
            return None
        return {i for i in ids if known_match(c, self.catalog.tracks[i], self.enrichment)}

    @staticmethod
    def _top(score: np.ndarray, ids: np.ndarray, k: int, first: set[int] | None) -> np.ndarray:
        """Positions of the `k` best by score, in score order; the ids in `first` are taken before any other."""
        order = np.argsort(-score, kind="stable")
        if first and len(order) > k:
            pri = np.fromiter((int(i) in first for i in ids[order]), dtype=bool, count=len(order))
            chosen = np.concatenate([order[pri], order[~pri]])[:k]
            order = order[np.isin(order, chosen)]
        return order[:k]

    def artist_names(self) -> list[str]:
        """Canonical artist names, for intent parsers that recognise artists."""
        seen: dict[str, str] = {}
        for t in self.catalog.tracks:
            for a in t.artists:
                seen.setdefault(norm(a), a)
        return list(seen.values())

    def embed_query(self, intent: Intent) -> np.ndarray:
        return self.embedder.encode([intent.query_text()])[0]

    def search(self, intent: Intent, k: int, q: np.ndarray | None = None, relax: bool = False) -> list[Candidate]:
        """One request as Candidate objects (tools, eval); `q` is its query vector if known."""
        vecs = None if q is None else np.asarray(q, np.float32).reshape(1, -1)
        return self.search_batch([intent], vecs, [k], relax)[0].to_candidates(self.catalog.tracks)

    def has_track(self, track_id: str) -> bool:
        return track_id in self._pos

    def track(self, track_id: str):
        i = self._pos.get(track_id)
        return None if i is None else self.catalog.tracks[i]

    def search_feedback(self, intent: Intent, k: int, feedback: Feedback | None,
                        q: np.ndarray | None = None) -> list[Candidate]:
        """`search`, plus what session feedback implies: the liked tracks themselves, their
        embedding neighbours and artists' tracks, and a Rocchio query (prompt + liked centroid).
        Every candidate carries its best cosine to a liked and to a disliked track; the ranker
        drops disliked tracks and their near-duplicates."""
        q = self.embed_query(intent) if q is None else np.asarray(q, np.float32)
        cands = self.search(intent, k, q, relax=LIKES_OVERRIDE_GENRE and bool(feedback and feedback.pinned))
        if not feedback:
            return cands
        V = self.index.vectors
        liked = [self._pos[t] for t in feedback.pinned if t in self._pos]
        disliked = [self._pos[t] for t in feedback.disliked if t in self._pos]
        have = {c.track.track_id for c in cands}
        extra: list[int] = []
        if liked:
            L = V[liked]
            centroid = L.mean(axis=0)
            q2 = q + ROCCHIO_BETA * centroid / max(float(np.linalg.norm(centroid)), 1e-9)
            q2 = q2 / max(float(np.linalg.norm(q2)), 1e-9)
            # One batched search: the Rocchio query, then each liked track's neighbours.
            Q = np.ascontiguousarray(np.vstack([q2[None, :], L]), dtype=np.float32)
            _, nn = self.index.search_batch(Q, max(k, LIKED_NEIGHBOURS))
            pools = [nn[0, :k].tolist()]
            for j, i in enumerate(liked, start=1):
                pools.append([i])
                pools.append(nn[j, :LIKED_NEIGHBOURS].tolist())
                for a in self.catalog.tracks[i].artists[:1]:
                    pools.append(self._by_artist.get(norm(a), []))
            # The intent's own filters, and no karaoke / cover version of a liked song unless asked for.
            ok = self.admit(intent, relax=True)
            for pool in pools:
                for i in pool:
                    if i < 0:
                        continue
                    t = self.catalog.tracks[int(i)]
                    if t.track_id not in have and ok(t):
                        have.add(t.track_id)
                        extra.append(int(i))
        # Disliked tracks travel too (flagged by disliked_sim 1.0) so the ranker knows their
        # recordings and drops every copy; it never shows them.
        extra += [i for i in disliked if self.catalog.tracks[i].track_id not in have]
        out = cands + [Candidate(track=self.catalog.tracks[i], dense_score=float(V[i] @ q), retrieval_rank=-1)
                       for i in extra]
        ids = np.asarray([self._pos[c.track.track_id] for c in out], dtype=np.int64)
        ls = (V[ids] @ V[liked].T).max(axis=1) if liked else np.zeros(len(out))
        ds = (V[ids] @ V[disliked].T).max(axis=1) if disliked else np.zeros(len(out))
        return [c.model_copy(update={"liked_sim": float(l), "disliked_sim": float(d)})
                for c, l, d in zip(out, ls.tolist(), ds.tolist())]

    def feedback_vectors(self, feedback: Feedback | None) -> FeedbackVectors:
        """The disliked tracks' vectors, for the Ranker (it has none of its own)."""
        rows = [self._pos[t] for t in (feedback.disliked if feedback else ()) if t in self._pos]
        return FeedbackVectors(np.ascontiguousarray(self.index.vectors[rows], np.float32))

    def search_vector(self, intent: Intent, q: np.ndarray, k: int) -> list[Candidate]:
        return self.search(intent, k, q)

    def search_batch(self, intents: list[Intent], vectors: np.ndarray | None, ks: list[int],
                     relax: bool = False) -> list[CandidateSet]:
        """Candidates for a batch: one FAISS search over all query vectors and one BM25 call.
        `vectors` are the IntentModel's query vectors; None embeds here (callers without them)."""
        if not intents:
            return []
        if vectors is None:
            vectors = self.embedder.encode([i.query_text() for i in intents])
        Q = np.ascontiguousarray(vectors, dtype=np.float32)
        fetch = [k * self._overfetch for k in ks]
        S, I = self.index.search_batch(Q, max(fetch))
        raw = self.lexical.scores_batch([i.query_text() for i in intents]) if self.lexical is not None else None
        return [self._one(intent, Q[b], k, fetch[b], S[b][: fetch[b]], I[b][: fetch[b]],
                          raw[b] if raw is not None else None, relax)
                for b, (intent, k) in enumerate(zip(intents, ks))]

    def _one(self, intent: Intent, q: np.ndarray, k: int, fetch: int, s: np.ndarray, ids: np.ndarray,
             raw: np.ndarray | None, relax: bool = False) -> CandidateSet:
        scores: dict[int, float] = {}
        c = constraints(intent, self.enrichment)
        ok = self.admit(intent, relax)
        # Tracks by artists the listener named are candidates whatever their text
        # similarity: "songs from Lojay" must reach the ranker even if the titles
        # say nothing about the prompt. So are those of "like X": X (unless excluded) and its neighbours.
        excluded = {norm(x) for x in intent.exclude_artists}
        like = [a for a in intent.similar_artists if norm(a) not in excluded]
        for a in [*intent.include_artists, *like, *c.similar_names]:
            for i in self._by_artist.get(norm(a), ()):
                scores[i] = float(self.index.vectors[i] @ q)
        admitted: dict[int, bool] = {}  # each track judged once, however often the net widens
        while True:
            keep = ids >= 0
            for score, i in zip(s[keep].tolist(), ids[keep].tolist()):
                scores.setdefault(int(i), float(score))
            for i in scores:
                if i not in admitted:
                    admitted[i] = ok(self.catalog.tracks[i])
            kept = [i for i in scores if admitted[i]]
            if len(kept) >= k or fetch >= self.index.index.ntotal:
                break
            fetch = min(fetch * 4, self.index.index.ntotal)  # filters ate too much: widen the net
            s, ids = self.index.search(q, fetch)
        kept = kept if relax else self._prefer_known(c, kept, k)
        if self.lexical is None or raw is None:
            rows = np.asarray(kept, dtype=np.int64)
            dense = np.asarray([scores[i] for i in kept], dtype=np.float32)
            top = self._top(dense, rows, k, None if relax else self._known(c, kept))
            return CandidateSet(self.catalog.version, rows[top], dense[top], np.zeros(len(top), np.float32))
        return self._fuse(intent, q, scores, kept, k, raw, ok, None if relax else c)

    def _fuse(self, intent: Intent, q: np.ndarray, scores: dict[int, float], kept: list[int], k: int,
              raw: np.ndarray, ok, c) -> CandidateSet:
        assert self.lexical is not None and self.hybrid is not None
        lex = normalise(raw)
        hits = self.lexical.search_scores(raw, self.hybrid.lexical_k)
        pool = list(dict.fromkeys(kept))
        have = set(pool)
        for i in hits.tolist():
            if i not in have and ok(self.catalog.tracks[i]):
                scores[i] = float(self.index.vectors[i] @ q)
                pool.append(i)
                have.add(i)
        pool = pool if c is None else self._prefer_known(c, pool, k)
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
        order = self._top(fused, ids, k, self._known(c, pool))
        return CandidateSet(self.catalog.version, ids[order], dense[order], lex[ids[order]].astype(np.float32))

