"""Ranking metrics over recordings, and bootstrap confidence intervals.

A ranked list is first reduced to distinct recordings (first occurrence wins),
so a duplicate upload neither earns a second hit nor pushes real hits down.
Relevance is binary: a recording is relevant when it is in the gold set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

METRICS = ("hit@20", "hit@100", "recall@50", "ndcg@20")


def distinct(keys: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for k in keys:
        if k not in seen:
            seen.add(k)
            out.append(k)
    return out


def hit_at(ranked: Sequence[str], gold: set[str] | frozenset[str], k: int) -> float:
    return float(any(x in gold for x in ranked[:k]))


def recall_at(ranked: Sequence[str], gold: set[str] | frozenset[str], k: int) -> float:
    if not gold:
        raise ValueError("recall is undefined for an empty gold set; skip such dialogs")
    return sum(1 for x in ranked[:k] if x in gold) / len(gold)


def ndcg_at(ranked: Sequence[str], gold: set[str] | frozenset[str], k: int) -> float:
    dcg = sum(1.0 / math.log2(i + 2) for i, x in enumerate(ranked[:k]) if x in gold)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(gold), k)))
    return dcg / ideal if ideal > 0 else 0.0


def dialog_metrics(ranked_keys: Sequence[str], gold: set[str] | frozenset[str]) -> dict[str, float]:
    r = distinct(ranked_keys)
    return {
        "hit@20": hit_at(r, gold, 20),
        "hit@100": hit_at(r, gold, 100),
        "recall@50": recall_at(r, gold, 50),
        "ndcg@20": ndcg_at(r, gold, 20),
    }


@dataclass(frozen=True)
class Estimate:
    mean: float
    low: float
    high: float


def bootstrap_ci(values: Sequence[float], n_boot: int = 1000, alpha: float = 0.05, seed: int = 0) -> Estimate:
    """Percentile bootstrap over dialogs (the unit that was sampled)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        raise ValueError("no values to bootstrap")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return Estimate(float(x.mean()), float(lo), float(hi))


def summarise(rows: Sequence[dict[str, float]], n_boot: int = 1000, seed: int = 0) -> dict[str, Estimate]:
    return {m: bootstrap_ci([r[m] for r in rows], n_boot=n_boot, seed=seed) for m in METRICS}
