"""Training the learned ranker: examples from dialogs, leave-one-out priors, LambdaMART, k folds.

Leakage rules (tested in tests/unit/test_ranker_training.py):
- a model evaluated on fold f is trained, and its priors built, from the other folds only;
- within the training folds, each dialog's own features are computed leave-one-out
  (its own goal removed from popularity counts and from the neighbour playlists),
  so training rows look like what a new request sees.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from serving.intent.chatter import asks_nothing
from serving.intent.model import Intent
from serving.ranking.bagging import BaggedBooster
from serving.ranking.diversity import recording_key
from serving.ranking.features import FEATURES, PRIOR_FEATURES, extract
from serving.ranking.ltr import RankerArtifact, import_lightgbm, new_meta
from serving.ranking.priors import EXPANSION, PriorDialog, Priors, expand_candidates, lead_artist
from serving.schemas import Candidate, Track


@dataclass(frozen=True)
class TrainParams:
    n_estimators: int = 200
    learning_rate: float = 0.08
    num_leaves: int = 15
    min_data_in_leaf: int = 40
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    lambdarank_truncation_level: int = 30
    seed: int = 0
    bag: int = 3  # boosters with seeds seed, seed+1, ...; their scores averaged (serving/ranking/bagging.py)
    num_threads: int = 1  # OpenMP spin-waits make >1 thread slower on a busy 2-core box
    use_priors: bool = True  # False drops the prior features (an ablation, not a product setting)
    expand: bool = True  # False: rank only what retrieval found (no tracks borrowed from priors; an ablation)

    def __post_init__(self) -> None:
        if self.bag < 1:
            raise ValueError(f"TrainParams.bag must be at least 1, got {self.bag}")

    def features(self) -> list[str]:
        return [f for f in FEATURES if (self.use_priors or f not in PRIOR_FEATURES) and (self.expand or f != "expanded")]

    def lgb_params(self) -> dict[str, Any]:
        return {
            "objective": "lambdarank", "metric": "ndcg", "ndcg_eval_at": [20, 100],
            "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf, "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction, "bagging_freq": 1,
            "lambdarank_truncation_level": self.lambdarank_truncation_level,
            "seed": self.seed, "deterministic": True, "num_threads": self.num_threads, "verbose": -1,
        }


@dataclass
class Example:
    """One training dialog: its parsed request, retrieved candidates and what the listener kept."""

    id: str
    intent: Intent
    candidates: list[Candidate]
    query_vector: np.ndarray
    goal_keys: frozenset[str]
    goal_artists: frozenset[str] = frozenset()
    seen_keys: frozenset[str] = frozenset()
    goal_items: tuple[tuple[str, Track, np.ndarray], ...] = ()
    labels: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.labels is None:
            self.labels = np.asarray([recording_key(c.track) in self.goal_keys for c in self.candidates], dtype=np.float32)

    def prior_dialog(self) -> PriorDialog:
        return PriorDialog(self.id, self.query_vector, self.goal_keys, self.goal_artists, self.seen_keys, self.goal_items)


def seen_and_artists(raw: dict, key_of: Callable[[str], str | None], artist_of: Callable[[str], str | None],
                     goal_ids: Sequence[str]) -> tuple[frozenset[str], frozenset[str]]:
    """From a CPCD dialog: the recordings the curator's searches surfaced, and the goal's lead artists."""
    seen: set[str] = set()
    for turn in raw.get("turns") or []:
        for results in turn.get("search_results") or []:
            for tid in results:
                k = key_of(tid)
                if k:
                    seen.add(k)
    artists = {a for a in (artist_of(t) for t in goal_ids) if a}
    return frozenset(seen), frozenset(artists)


def build_priors(examples: Sequence[Example]) -> Priors:
    dim = examples[0].query_vector.shape[0] if examples else 0
    return Priors.build([e.prior_dialog() for e in examples], dim)


def matrix(examples: Sequence[Example], priors: Priors, features: list[str]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Stacked features (leave-one-out where the example is part of the priors), labels, group sizes."""
    cols = [FEATURES.index(f) for f in features]
    expand = "expanded" in features
    xs, ys, groups = [], [], []
    for e in examples:
        if asks_nothing(e.intent):
            continue  # "Hello": served by popularity (LearnedRanker._open_scores), never by the model
        qp = priors.query_stats(e.query_vector, exclude=priors.position(e.id))
        cands = expand_candidates(e.candidates, qp, e.intent, recording_key) if expand else e.candidates
        labels = np.asarray([recording_key(c.track) in e.goal_keys for c in cands], dtype=np.float32)
        if not cands or labels.sum() == 0:
            continue  # no positive: no ranking signal
        xs.append(extract(e.intent, cands, qp)[:, cols])
        ys.append(labels)
        groups.append(len(cands))
    if not xs:
        raise ValueError("no training dialog has a gold track among its candidates; raise retrieval.top_k or check the data")
    return np.vstack(xs), np.concatenate(ys), groups


def fit(examples: Sequence[Example], version: str, embedder_version: str, params: TrainParams = TrainParams(),
        **meta: Any) -> RankerArtifact:
    lgb = import_lightgbm()

    priors = build_priors(examples)
    features = params.features()
    X, y, groups = matrix(examples, priors, features)
    ds = lgb.Dataset(X, y, group=groups, feature_name=features, free_raw_data=True)
    # The members differ only in which rows and features each tree samples; the binned data is shared.
    model = BaggedBooster([lgb.train({**params.lgb_params(), "bagging_seed": params.seed + i,
                                      "feature_fraction_seed": params.seed + i}, ds,
                                     num_boost_round=params.n_estimators) for i in range(params.bag)])
    info = new_meta(
        embedder=embedder_version, n_dialogs=len(examples), n_rows=int(len(y)), n_positive=int(y.sum()),
        train_dialog_ids=sorted(e.id for e in examples), params=params.__dict__, **meta,
    )
    return RankerArtifact(version=version, model=model, features=features, priors=priors, meta=info)


def fold_of(dialog_id: str, k: int, seed: int = 0) -> int:
    """Stable fold assignment by hashing the dialog id (independent of file order)."""
    h = hashlib.sha256(f"{seed}:{dialog_id}".encode()).digest()
    return int.from_bytes(h[:8], "big") % k


def folds(ids: Sequence[str], k: int, seed: int = 0) -> list[tuple[list[int], list[int]]]:
    """(train positions, test positions) per fold."""
    if k < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {k}")
    f = [fold_of(i, k, seed) for i in ids]
    return [([j for j in range(len(ids)) if f[j] != i], [j for j in range(len(ids)) if f[j] == i]) for i in range(k)]
