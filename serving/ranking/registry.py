"""Ranker versions by name, so a config (or an experiment arm) can pick one.

Rule-based versions are built in; `ltr-*` versions are learned-ranker artifacts loaded
from `ranking.artifacts_dir` (default: the ones shipped in the package).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from serving.config import RankingConfig
from serving.ranking.base import Ranker
from serving.ranking.baseline import BaselineRanker
from serving.ranking.random_ranker import RandomRanker
from serving.retrieval.embedder import Embedder

if TYPE_CHECKING:
    from serving.catalog.loader import Catalog


class UnknownRanker(ValueError):
    pass


# random-v1 is a deliberately broken TEST FIXTURE (random picks) for exercising rollbacks.
_RANKERS = ("baseline-v1", "baseline-v2", "random-v1")


def artifact_root(config: RankingConfig) -> Path:
    from serving.ranking.ltr import shipped_artifacts_dir

    return Path(config.artifacts_dir).expanduser() if config.artifacts_dir else shipped_artifacts_dir()


def available_rankers(config: RankingConfig | None = None) -> list[str]:
    root = artifact_root(config or RankingConfig())
    learned = sorted(p.name for p in root.iterdir() if (p / "meta.json").is_file()) if root.is_dir() else []
    return [*_RANKERS, *learned]


def make_ranker(config: RankingConfig, embedder: Embedder | Callable[[], Embedder] | None = None,
                catalog: "Catalog | None" = None, embedder_version: str | None = None, enrichment=None) -> Ranker:
    """Learned rankers compare the request's query vector with past requests'. Served, the
    vector comes with the request and `embedder_version` (which model made the vectors) is
    enough; `embedder` (an instance, or a factory called only if needed) serves callers that
    have no vector. `catalog` is what the candidate rows index."""
    if config.version == "baseline-v1":
        return BaselineRanker(version=config.version, max_per_artist=config.max_per_artist)
    if config.version == "baseline-v2":
        # No tag bonus (the zero-shot tags added noise on CPCD) and a looser artist cap.
        return BaselineRanker(version=config.version, max_per_artist=config.max_per_artist + 1, tag_bonus=0.0)
    if config.version == "random-v1":
        return RandomRanker(version=config.version)
    if config.version.startswith("ltr-"):
        from serving.ranking.ltr import LearnedRanker, RankerArtifact

        if embedder is None and embedder_version is None:
            raise UnknownRanker(f"ranker '{config.version}' needs the retriever's embedder (or its version); "
                                "pass embedder= or embedder_version=")
        emb = embedder if isinstance(embedder, Embedder) or embedder is None else embedder()
        artifact = RankerArtifact.load(config.version, artifact_root(config))
        enr = enrichment() if callable(enrichment) else enrichment  # catalog attributes that filter borrowed candidates
        return LearnedRanker(artifact, emb, max_per_artist=config.max_per_artist, catalog=catalog, enrichment=enr,
                             embedder_version=embedder_version)
    raise UnknownRanker(
        f"ranking.version '{config.version}' is not a known ranker; available: {', '.join(available_rankers(config))}"
    )
