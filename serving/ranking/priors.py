"""Catalog priors learned from curated dialogs: what listeners kept, and for which requests.

- popularity: in how many training dialogs' goal playlists a recording / lead artist appears;
- exposure: in how many training dialogs the curator's searches surfaced a recording;
- prompt neighbours: each training request's embedded query text with its goal recordings,
  so a new request can borrow the playlists of the most similar past requests (item-kNN
  over sessions, a classic collaborative signal).

Every number here must come from training dialogs only. `exclude` lets a training
dialog's own features be computed without its own goal (leave-one-out), which is
what the model sees for held-out dialogs at evaluation and serving time.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from serving.intent.model import Intent
from serving.retrieval.filters import passes_filters
from serving.schemas import Candidate, Track
from serving.text import norm

N_NEIGHBOURS = 25
SIM_POWER = 3.0
EXPANSION = 300  # neighbour-playlist tracks added to the retrieved candidates
POPULAR = 400  # most-kept tracks added as well: popularity alone finds a gold track for ~45% of requests


@dataclass(frozen=True)
class PriorDialog:
    """What the priors need from one training dialog."""

    id: str
    query_vector: np.ndarray  # embedded intent query text of the first turn
    goal_keys: frozenset[str]  # recordings the listener kept
    goal_artists: frozenset[str]  # normalised lead artists of those
    seen_keys: frozenset[str] = frozenset()  # recordings the curator's searches surfaced
    # (recording key, catalog track, its catalog vector) of the kept tracks: lets a request
    # borrow them as candidates even when retrieval did not find them.
    goal_items: tuple[tuple[str, Track, np.ndarray], ...] = ()


@dataclass
class Priors:
    dialog_ids: list[str]
    vectors: np.ndarray  # (n, dim) float32
    goal_keys: list[frozenset[str]]
    goal_artists: list[frozenset[str]]
    seen_keys: list[frozenset[str]]
    track_goal: Counter = field(default_factory=Counter)
    artist_goal: Counter = field(default_factory=Counter)
    track_seen: Counter = field(default_factory=Counter)
    track_of: dict[str, Track] = field(default_factory=dict)
    vector_of: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def build(cls, dialogs: list[PriorDialog], dim: int) -> "Priors":
        vecs = np.stack([d.query_vector for d in dialogs]).astype(np.float32) if dialogs else np.zeros((0, dim), np.float32)
        p = cls(
            dialog_ids=[d.id for d in dialogs],
            vectors=vecs,
            goal_keys=[d.goal_keys for d in dialogs],
            goal_artists=[d.goal_artists for d in dialogs],
            seen_keys=[d.seen_keys for d in dialogs],
        )
        for d in dialogs:
            for key, track, vec in d.goal_items:
                if key not in p.track_of:
                    p.track_of[key] = track
                    p.vector_of[key] = np.asarray(vec, dtype=np.float32)
        p._count()
        return p

    def _count(self) -> None:
        self.track_goal = Counter(k for g in self.goal_keys for k in g)
        self.artist_goal = Counter(a for g in self.goal_artists for a in g)
        self.track_seen = Counter(k for g in self.seen_keys for k in g)
        self.by_popularity = sorted(self.track_of, key=lambda k: (-self.track_goal.get(k, 0), k))

    def position(self, dialog_id: str) -> int | None:
        try:
            return self.dialog_ids.index(dialog_id)
        except ValueError:
            return None

    def query_stats(self, q: np.ndarray, exclude: int | None = None) -> "QueryPriors":
        """Neighbour weights of one request; `exclude` drops one training dialog (leave-one-out)."""
        n = len(self.dialog_ids)
        if n == 0:
            return QueryPriors(self, [], np.zeros(0), 0.0, exclude, q)
        sims = self.vectors @ q.astype(np.float32)
        if exclude is not None:
            sims = sims.copy()
            sims[exclude] = -np.inf
        top = np.argsort(-sims)[: min(N_NEIGHBOURS, n - (exclude is not None))]
        top = [int(i) for i in top if np.isfinite(sims[i])]
        s = np.clip(sims[top], 0, None) if top else np.zeros(0)
        return QueryPriors(self, top, s, float(s.max()) if s.size else 0.0, exclude, q)


@dataclass
class QueryPriors:
    priors: Priors
    neighbours: list[int]
    sims: np.ndarray
    top_sim: float
    exclude: int | None
    q: np.ndarray | None = None

    def __post_init__(self) -> None:
        w = self.sims**SIM_POWER
        self._track: Counter = Counter()
        self._track_max: dict[str, float] = {}
        self._artist: Counter = Counter()
        for i, wi, si in zip(self.neighbours, w.tolist(), self.sims.tolist()):
            for k in self.priors.goal_keys[i]:
                self._track[k] += wi
                self._track_max[k] = max(self._track_max.get(k, 0.0), si)
            for a in self.priors.goal_artists[i]:
                self._artist[a] += wi
        total = float(w.sum())
        self._norm = total if total > 0 else 1.0
        # Leave-one-out counts: the excluded dialog's own goal must not count.
        ex = self.exclude
        self._own_goal = self.priors.goal_keys[ex] if ex is not None else frozenset()
        self._own_artists = self.priors.goal_artists[ex] if ex is not None else frozenset()
        self._own_seen = self.priors.seen_keys[ex] if ex is not None else frozenset()

    def track_goal(self, key: str) -> float:
        return self.priors.track_goal.get(key, 0) - (key in self._own_goal)

    def artist_goal(self, artist: str) -> float:
        return self.priors.artist_goal.get(artist, 0) - (artist in self._own_artists)

    def track_seen(self, key: str) -> float:
        return self.priors.track_seen.get(key, 0) - (key in self._own_seen)

    def knn_track(self, key: str) -> float:
        return self._track.get(key, 0.0) / self._norm

    def knn_track_max(self, key: str) -> float:
        return self._track_max.get(key, 0.0)

    def knn_artist(self, artist: str) -> float:
        return self._artist.get(artist, 0.0) / self._norm

    def popular_keys(self, limit: int) -> list[str]:
        """The most-kept recordings, counted without the excluded dialog."""
        bp = self.priors.by_popularity
        n = min(len(bp), limit + len(self._own_goal))
        if self._own_goal and n < len(bp):
            # Leaving one dialog out lowers its tracks' counts by one, which can tie them with
            # tracks past the cut: widen the cut to every such tie so the result equals priors built without it.
            edge = self.priors.track_goal.get(bp[n - 1], 0) - 1
            while n < len(bp) and self.priors.track_goal.get(bp[n], 0) >= edge:
                n += 1
        head = bp[:n]
        return sorted((k for k in head if self.track_goal(k) > 0), key=lambda k: (-self.track_goal(k), k))[:limit]

    def expansion_keys(self, limit: int) -> list[str]:
        """Recordings of the neighbours' kept playlists, most supported first (own goal excluded)."""
        ranked = sorted(self._track.items(), key=lambda kv: (-round(kv[1], 9), kv[0]))  # float-sum order must not decide ties
        return [k for k, _ in ranked if k not in self._own_goal][:limit]


def expand_candidates(candidates: list[Candidate], qp: QueryPriors, intent: Intent, key_of,
                      limit: int | None = None, popular: int | None = None, admit=None) -> list[Candidate]:
    """Retrieved candidates plus tracks from similar past requests' playlists that retrieval
    missed (retrieval_rank -1 marks them). Intent filters apply to them as to retrieval:
    `admit` (track -> bool) is the retriever's full predicate (genre/era agreement, stand-in
    versions) where the ranker has the enrichment; the plain intent filters otherwise."""
    admit = admit or (lambda t: passes_filters(intent, t))
    limit = EXPANSION if limit is None else limit
    popular = POPULAR if popular is None else popular
    if qp.q is None or not qp.priors.dialog_ids:
        return candidates
    have = {key_of(c.track) for c in candidates}
    extra = []
    for k in dict.fromkeys([*qp.expansion_keys(limit), *qp.popular_keys(popular)]):
        if k in have:
            continue
        t = qp.priors.track_of.get(k)
        v = qp.priors.vector_of.get(k)
        if t is None or v is None or not admit(t):
            continue
        have.add(k)
        extra.append(Candidate(track=t, dense_score=float(v @ qp.q), retrieval_rank=-1))
    return candidates + extra


def lead_artist(artists: list[str] | tuple[str, ...]) -> str:
    return norm(artists[0]) if artists else ""
