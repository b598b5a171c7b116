"""Ranker versions by name, so a config (or an experiment arm) can pick one."""

from __future__ import annotations

from serving.config import RankingConfig
from serving.ranking.base import Ranker
from serving.ranking.baseline import BaselineRanker
from serving.ranking.random_ranker import RandomRanker


class UnknownRanker(ValueError):
    pass


# random-v1 is a deliberately broken TEST FIXTURE (random picks) for exercising rollbacks.
_RANKERS = ("baseline-v1", "baseline-v2", "random-v1")


def available_rankers() -> list[str]:
    return list(_RANKERS)


def make_ranker(config: RankingConfig) -> Ranker:
    if config.version == "baseline-v1":
        return BaselineRanker(version=config.version, max_per_artist=config.max_per_artist)
    if config.version == "baseline-v2":
        # No tag bonus (the zero-shot tags added noise on CPCD) and a looser artist cap.
        return BaselineRanker(version=config.version, max_per_artist=config.max_per_artist + 1, tag_bonus=0.0)
    if config.version == "random-v1":
        return RandomRanker(version=config.version)
    raise UnknownRanker(
        f"ranking.version '{config.version}' is not a known ranker; available: {', '.join(available_rankers())}"
    )
