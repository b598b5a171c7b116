"""The priors (priors.py) as arrays over a TrackTable's key and artist ids.

Same numbers as Priors / QueryPriors, computed with numpy over whole candidate sets
instead of per-candidate dictionary lookups. Built once per (artifact, table).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from serving.ranking.priors import N_NEIGHBOURS, SIM_POWER, Priors
from serving.ranking.track_table import TrackTable


def _csr(groups: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    ptr = np.zeros(len(groups) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(g) for g in groups])
    flat = np.fromiter((x for g in groups for x in g), np.int64, int(ptr[-1]))
    return ptr, flat


class PriorArrays:
    def __init__(self, priors: Priors, table: TrackTable):
        self.priors = priors
        self.table = table
        self.vectors = priors.vectors
        kid, lid = table.key_id, table.lead_id
        # Goal keys are all in the table's key vocabulary (the table was built with them);
        # artists and exposure keys the table lacks can never match a candidate: dropped.
        self.goal_ptr, self.goal = _csr([[kid(k) for k in g] for g in priors.goal_keys])
        self.artist_ptr, self.artist = _csr([[x for x in (lid(a) for a in g) if x >= 0] for g in priors.goal_artists])
        self.seen_ptr, self.seen = _csr([[x for x in (kid(k) for k in g) if x >= 0] for g in priors.seen_keys])
        if (self.goal < 0).any():
            raise ValueError("the track table was built without the priors' goal keys; build it with prior_keys(priors)")
        self.track_goal = np.bincount(self.goal, minlength=table.n_keys).astype(np.float64)
        self.artist_goal = np.bincount(self.artist, minlength=table.n_leads).astype(np.float64)
        self.track_seen = np.bincount(self.seen, minlength=table.n_keys).astype(np.float64)
        # Borrowable tracks: key -> table row and catalog vector (priors.track_of / vector_of).
        self.key_row = np.full(table.n_keys, -1, dtype=np.int64)
        self.key_vec = np.full(table.n_keys, -1, dtype=np.int64)
        vecs = []
        for k, t in priors.track_of.items():
            r = table.row_of.get(t.track_id)
            if r is None or table.tracks[r] != t or priors.vector_of.get(k) is None:
                continue
            i = table.key_id(k)
            self.key_row[i] = r
            self.key_vec[i] = len(vecs)
            vecs.append(priors.vector_of[k])
        dim = priors.vectors.shape[1] if priors.vectors.ndim == 2 else 0
        self.borrow_vectors = np.stack(vecs).astype(np.float32) if vecs else np.zeros((0, dim), np.float32)
        self.by_popularity = np.asarray([table.key_id(k) for k in priors.by_popularity], dtype=np.int64)

    def _rows(self, ptr: np.ndarray, flat: np.ndarray, i: int) -> np.ndarray:
        return flat[ptr[i]:ptr[i + 1]]

    def query(self, q: np.ndarray, exclude: int | None = None) -> "QueryArrays":
        n = len(self.priors.dialog_ids)
        if n == 0:
            return QueryArrays(self, q, np.zeros(0, np.int64), np.zeros(0, np.float32), 0.0, exclude)
        sims = self.vectors @ q.astype(np.float32)
        if exclude is not None:
            sims = sims.copy()
            sims[exclude] = -np.inf
        top = np.argsort(-sims)[: min(N_NEIGHBOURS, n - (exclude is not None))]
        top = top[np.isfinite(sims[top])]
        s = np.clip(sims[top], 0, None) if top.size else np.zeros(0, np.float32)
        return QueryArrays(self, q, top.astype(np.int64), s, float(s.max()) if s.size else 0.0, exclude)


def prior_keys(priors: Priors) -> set[str]:
    """Recording keys a TrackTable must know to rank with these priors."""
    return {k for g in priors.goal_keys for k in g} | set(priors.track_of)


@dataclass
class QueryArrays:
    """One request's neighbour statistics (QueryPriors, as arrays over key / artist ids)."""

    pa: PriorArrays
    q: np.ndarray
    neighbours: np.ndarray
    sims: np.ndarray
    top_sim: float
    exclude: int | None

    def __post_init__(self) -> None:
        pa, nk = self.pa, self.pa.table.n_keys
        w = self.sims**SIM_POWER
        # Accumulated in neighbour order in float64, as QueryPriors sums Python floats: same values.
        g = [pa._rows(pa.goal_ptr, pa.goal, i) for i in self.neighbours.tolist()]
        a = [pa._rows(pa.artist_ptr, pa.artist, i) for i in self.neighbours.tolist()]
        gi = np.concatenate(g) if g else np.zeros(0, np.int64)
        ai = np.concatenate(a) if a else np.zeros(0, np.int64)
        wf = w.astype(np.float64)
        self.knn_track = np.zeros(nk)
        np.add.at(self.knn_track, gi, np.repeat(wf, [len(x) for x in g]) if g else wf[:0])
        self.knn_track_max = np.zeros(nk)
        np.maximum.at(self.knn_track_max, gi, np.repeat(self.sims.astype(np.float64), [len(x) for x in g]) if g else wf[:0])
        self.knn_artist = np.zeros(pa.table.n_leads)
        np.add.at(self.knn_artist, ai, np.repeat(wf, [len(x) for x in a]) if a else wf[:0])
        self.touched = np.unique(gi)
        total = float(w.sum())
        self.norm = total if total > 0 else 1.0
        self.own_goal = np.zeros(nk, dtype=bool)
        self.own_seen = np.zeros(nk, dtype=bool)
        self.own_artists = np.zeros(pa.table.n_leads, dtype=bool)
        if self.exclude is not None:
            self.own_goal[pa._rows(pa.goal_ptr, pa.goal, self.exclude)] = True
            self.own_seen[pa._rows(pa.seen_ptr, pa.seen, self.exclude)] = True
            self.own_artists[pa._rows(pa.artist_ptr, pa.artist, self.exclude)] = True

    # Per-key / per-artist arrays (leave-one-out applied), indexed by table ids.
    def track_goal(self, keys: np.ndarray) -> np.ndarray:
        return self.pa.track_goal[keys] - self.own_goal[keys]

    def artist_goal(self, leads: np.ndarray) -> np.ndarray:
        return self.pa.artist_goal[leads] - self.own_artists[leads]

    def track_seen(self, keys: np.ndarray) -> np.ndarray:
        return self.pa.track_seen[keys] - self.own_seen[keys]

    def neighbour_artists(self, limit: int) -> list[tuple[str, float]]:
        """(normalised lead artist, share of the neighbours' weight whose kept playlists hold it),
        most kept first: what listeners with similar requests kept, by artist."""
        w = self.knn_artist  # the excluded dialog (CV) is never its own neighbour
        top = np.argsort(-w, kind="stable")[:limit]
        names = self.pa.table.lead_names
        return [(names[i], float(w[i] / self.norm)) for i in top.tolist() if w[i] > 0 and names[i]]

    def expansion_keys(self, limit: int) -> np.ndarray:
        """QueryPriors.expansion_keys: neighbours' kept recordings, most supported first."""
        k = self.touched
        k = k[~self.own_goal[k]]
        r = np.round(self.knn_track[k], 9)
        return k[np.lexsort((self.pa.table.key_name_rank[k], -r))][:limit]

    def popular_keys(self, limit: int) -> np.ndarray:
        """QueryPriors.popular_keys, as key ids."""
        bp = self.pa.by_popularity
        n = min(len(bp), limit + int(self.own_goal.sum()))
        tg = self.pa.track_goal
        if self.own_goal.any() and n < len(bp):
            edge = tg[bp[n - 1]] - 1
            while n < len(bp) and tg[bp[n]] >= edge:
                n += 1
        head = bp[:n]
        c = self.track_goal(head)
        head, c = head[c > 0], c[c > 0]
        return head[np.lexsort((self.pa.table.key_name_rank[head], -c))][:limit]
