"""The learned ranker's features over a whole candidate pool at once (numpy, no per-candidate loop).

Same columns and values as features.extract (a unit test compares the two on real
candidates); extract stays as the readable reference and the training path. A feature
added to FEATURES must be added to both: the parity test fails otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from serving.intent.model import Intent
from serving.ranking.features import FEATURES
from serving.ranking.prior_arrays import QueryArrays
from serving.ranking.priors import EXPANSION, POPULAR
from serving.ranking.track_table import TrackTable
from serving.text import norm

_COL = {f: i for i, f in enumerate(FEATURES)}


@dataclass(frozen=True)
class Pool:
    """The candidates one request's ranker scores: retrieved ones, then borrowed ones (rank -1)."""

    rows: np.ndarray  # int64 table rows
    dense: np.ndarray  # float32
    lexical: np.ndarray  # float32
    rank: np.ndarray  # float32 retrieval rank, -1 = borrowed from the priors

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def retrieved(cls, rows: np.ndarray, dense: np.ndarray, lexical: np.ndarray) -> "Pool":
        return cls(np.asarray(rows, np.int64), np.asarray(dense, np.float32), np.asarray(lexical, np.float32),
                   np.arange(len(rows), dtype=np.float32))


def expand(pool: Pool, qa: QueryArrays, intent: Intent, table: TrackTable,
           limit: int = EXPANSION, popular: int = POPULAR, admit=None) -> Pool:
    """priors.expand_candidates over arrays: neighbours' and most-kept recordings that retrieval
    missed, filtered by the intent like retrieval is."""
    pa = qa.pa
    if qa.q is None or not pa.priors.dialog_ids:
        return pool
    keys = np.concatenate([qa.expansion_keys(limit), qa.popular_keys(popular)])
    _, first = np.unique(keys, return_index=True)
    keys = keys[np.sort(first)]
    keys = keys[~np.isin(keys, table.key[pool.rows])]
    keys = keys[pa.key_row[keys] >= 0]
    rows = pa.key_row[keys]
    ok = table.passes(intent, rows)
    if admit is not None:  # the enrichment's verdict (genre/era agreement, stand-ins), track by track
        ok &= np.fromiter((admit(table.tracks[r]) for r in rows.tolist()), bool, len(rows))
    keys, rows = keys[ok], rows[ok]
    dense = (pa.borrow_vectors[pa.key_vec[keys]] @ qa.q.astype(np.float32)).astype(np.float32)
    return Pool(np.concatenate([pool.rows, rows]), np.concatenate([pool.dense, dense]),
                np.concatenate([pool.lexical, np.zeros(len(rows), np.float32)]),
                np.concatenate([pool.rank, np.full(len(rows), -1.0, np.float32)]))


def _ranks(values: np.ndarray) -> np.ndarray:
    r = np.empty(len(values), dtype=np.float32)
    r[np.argsort(-values, kind="stable")] = np.arange(len(values), dtype=np.float32)
    return r


def intent_tags(intent: Intent) -> list[str]:
    return [norm(t) for t in (*intent.genres, *intent.moods, *intent.activities) if norm(t)]


def features(intent: Intent, pool: Pool, qa: QueryArrays, table: TrackTable) -> np.ndarray:
    n = len(pool)
    X = np.zeros((n, len(FEATURES)), dtype=np.float32)
    if n == 0:
        return X
    c = _COL
    rows, dense, lex, rr = pool.rows, pool.dense, pool.lexical, pool.rank
    X[:, c["dense"]] = dense
    X[:, c["dense_gap"]] = dense - dense.max()
    X[:, c["dense_rank"]] = np.log1p(_ranks(dense))
    X[:, c["lexical"]] = lex
    X[:, c["lexical_rank"]] = np.where(lex > 0, np.log1p(_ranks(lex)), math.log1p(n))
    X[:, c["retrieval_rank"]] = np.where(rr >= 0, np.log1p(np.maximum(rr, 0)), np.nan)
    X[:, c["expanded"]] = (rr < 0).astype(np.float32)

    wanted = {norm(a) for a in intent.include_artists}
    tags = intent_tags(intent)
    X[:, c["artist_asked"]] = table.artist_mask(wanted)[rows] if wanted else 0.0
    if tags:
        X[:, c["tag_hits"]] = np.sum([table.tag_mask(t)[rows] for t in tags], axis=0)
    X[:, c["n_tags"]] = len(tags)
    X[:, c["n_asked_artists"]] = len(wanted)
    X[:, c["has_era"]] = float(intent.era is not None)
    X[:, c["knn_top_sim"]] = qa.top_sim

    keys, leads = table.key[rows], table.lead[rows]
    X[:, c["pop_track"]] = np.log1p(np.maximum(qa.track_goal(keys), 0))
    X[:, c["pop_artist"]] = np.log1p(np.maximum(qa.artist_goal(leads), 0))
    X[:, c["seen_track"]] = np.log1p(np.maximum(qa.track_seen(keys), 0))
    X[:, c["knn_track"]] = qa.knn_track[keys] / qa.norm
    X[:, c["knn_track_max"]] = qa.knn_track_max[keys]
    X[:, c["knn_artist"]] = qa.knn_artist[leads] / qa.norm

    _, inv, counts = np.unique(leads, return_inverse=True, return_counts=True)
    X[:, c["artist_share"]] = counts[inv] / n
    best = np.full(len(counts), -1.0)
    d64 = dense.astype(np.float64)
    np.maximum.at(best, inv, d64)
    X[:, c["artist_best_dense"]] = best[inv] - d64
    # How many earlier candidates share this one's recording key.
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
    pos = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    dup = np.empty(n, dtype=np.float32)
    dup[order] = pos
    X[:, c["dup_rank"]] = dup
    return X
