"""Ranker versions by name, so a config (or an experiment arm) can pick one."""

from __future__ import annotations

from serving.config import RankingConfig
from serving.ranking.base import Ranker
from serving.ranking.baseline import BaselineRanker


class UnknownRanker(ValueError):
    pass


def available_rankers() -> list[str]:
    return ["baseline-v1"]


def make_ranker(config: RankingConfig) -> Ranker:
    if config.version == "baseline-v1":
        return BaselineRanker(version=config.version, max_per_artist=config.max_per_artist)
    raise UnknownRanker(
        f"ranking.version '{config.version}' is not a known ranker; available: {', '.join(available_rankers())}"
    )
