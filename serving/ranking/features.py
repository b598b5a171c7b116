"""Features of (request, candidate) pairs for the learned ranker.

Columns, in FEATURES order. Groups: retrieval (dense / lexical scores and ranks),
intent (asked-for artist, tag words in the track text), priors (popularity,
exposure, prompt-neighbour playlists; see priors.py), and the candidate list's
own shape (how much of it one artist fills: a diversity signal).
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np

from serving.intent.model import Intent
from serving.ranking.diversity import recording_key
from serving.ranking.priors import QueryPriors, lead_artist
from serving.schemas import Candidate
from serving.text import norm

FEATURES: tuple[str, ...] = (
    # retrieval
    "dense", "dense_gap", "dense_rank", "lexical", "lexical_rank", "retrieval_rank", "expanded",
    # intent
    "artist_asked", "tag_hits", "n_tags", "n_asked_artists", "has_era",
    # priors
    "pop_track", "pop_artist", "seen_track", "knn_track", "knn_track_max", "knn_artist", "knn_top_sim",
    # list shape / diversity
    "artist_share", "artist_best_dense", "dup_rank",
)
PRIOR_FEATURES = frozenset({"expanded", "pop_track", "pop_artist", "seen_track", "knn_track", "knn_track_max", "knn_artist", "knn_top_sim"})


def _ranks(values: np.ndarray) -> np.ndarray:
    r = np.empty(len(values), dtype=np.float32)
    r[np.argsort(-values, kind="stable")] = np.arange(len(values), dtype=np.float32)
    return r


def extract(intent: Intent, candidates: list[Candidate], qp: QueryPriors) -> np.ndarray:
    n = len(candidates)
    X = np.zeros((n, len(FEATURES)), dtype=np.float32)
    if n == 0:
        return X
    col = {f: i for i, f in enumerate(FEATURES)}
    dense = np.asarray([c.dense_score for c in candidates], dtype=np.float32)
    lex = np.asarray([c.lexical_score for c in candidates], dtype=np.float32)
    X[:, col["dense"]] = dense
    X[:, col["dense_gap"]] = dense - dense.max()
    X[:, col["dense_rank"]] = np.log1p(_ranks(dense))
    X[:, col["lexical"]] = lex
    X[:, col["lexical_rank"]] = np.where(lex > 0, np.log1p(_ranks(lex)), math.log1p(n))
    rr = np.asarray([c.retrieval_rank for c in candidates], dtype=np.float32)
    # Candidates borrowed from similar requests' playlists were not retrieved: no rank (LightGBM's missing).
    X[:, col["retrieval_rank"]] = np.where(rr >= 0, np.log1p(np.maximum(rr, 0)), np.nan)
    X[:, col["expanded"]] = (rr < 0).astype(np.float32)

    wanted = {norm(a) for a in intent.include_artists}
    tags = [norm(t) for t in (*intent.genres, *intent.moods, *intent.activities) if norm(t)]
    tag_res = [re.compile(rf"\b{re.escape(t)}\b") for t in tags]
    leads = [lead_artist(c.track.artists) for c in candidates]
    keys = [recording_key(c.track) for c in candidates]
    share = Counter(leads)
    best_dense: dict[str, float] = {}
    for a, d in zip(leads, dense.tolist()):
        best_dense[a] = max(best_dense.get(a, -1.0), d)
    seen_key: Counter = Counter()
    X[:, col["n_tags"]] = len(tags)
    X[:, col["n_asked_artists"]] = len(wanted)
    X[:, col["has_era"]] = float(intent.era is not None)
    X[:, col["knn_top_sim"]] = qp.top_sim
    for i, c in enumerate(candidates):
        t = c.track
        X[i, col["artist_asked"]] = float(any(norm(a) in wanted for a in t.artists))
        if tag_res:
            text = norm(f"{t.title} {t.album or ''} {' '.join(t.tags)}")
            X[i, col["tag_hits"]] = sum(1 for r in tag_res if r.search(text))
        k, a = keys[i], leads[i]
        X[i, col["pop_track"]] = math.log1p(max(qp.track_goal(k), 0))
        X[i, col["pop_artist"]] = math.log1p(max(qp.artist_goal(a), 0))
        X[i, col["seen_track"]] = math.log1p(max(qp.track_seen(k), 0))
        X[i, col["knn_track"]] = qp.knn_track(k)
        X[i, col["knn_track_max"]] = qp.knn_track_max(k)
        X[i, col["knn_artist"]] = qp.knn_artist(a)
        X[i, col["artist_share"]] = share[a] / n
        X[i, col["artist_best_dense"]] = best_dense[a] - dense[i]
        X[i, col["dup_rank"]] = seen_key[k]
        seen_key[k] += 1
    return X
