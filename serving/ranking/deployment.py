"""The Ranker deployment: scores retrieval results into a playlist.

Holds every ranker version the experiment's arms use side by side (rankers are
small), and picks the one named in the request's arm components."""

from __future__ import annotations

from serving import telemetry
from serving.config import AppConfig
from serving.experiments.components import all_arm_components, arm_app_config, components_from_ctx
from serving.intent.model import Intent
from serving.ranking.base import Ranker
from serving.ranking.registry import make_ranker
from serving.schemas import RequestContext
from serving.stages import Mode, RankResult, RetrievalResult


class RankerDeployment:
    def __init__(self, config: AppConfig):
        self._config = config
        self._rankers: dict[str, Ranker] = {}
        self._embedder = None
        for comps in all_arm_components(config):
            self._get(arm_app_config(config, comps).ranking.version)

    def _embedder_once(self):
        # Learned rankers embed the request to find similar past requests; one model serves
        # every learned version, and a replica with only rule-based rankers never loads it.
        if self._embedder is None:
            from serving.retrieval.embedder import make_embedder

            self._embedder = make_embedder(self._config.retrieval.embedder)
        return self._embedder

    def _enrichment_once(self):
        # The same artifact the Retriever filters with (shipped, cached, or built from the index cache),
        # so borrowed candidates obey the same genre/era/stand-in rules. Only learned rankers borrow.
        if not hasattr(self, "_enrichment"):
            from serving.catalog.enrichment.store import load_or_build
            from serving.catalog.loader import load_catalog
            from serving.retrieval.index import load_or_build as load_index

            cfg, emb = self._config, self._embedder_once()
            catalog = load_catalog(cfg.catalog.path)
            self._enrichment = load_or_build(
                cfg, catalog, emb.version,
                lambda: load_index(catalog, emb, cfg.retrieval.index_kind, cfg.retrieval.cache_dir).vectors)
        return self._enrichment

    def _get(self, version: str) -> Ranker:
        # A live config may name a registered ranker no arm used at start-up: build it once.
        if version not in self._rankers:
            self._rankers[version] = make_ranker(self._config.ranking.model_copy(update={"version": version}),
                                                 embedder=self._embedder_once, enrichment=self._enrichment_once)
        return self._rankers[version]

    def rank(
        self, intent: Intent, retrieval: RetrievalResult, length: int, mode: Mode, ctx: RequestContext
    ) -> RankResult:
        ranker = self._get(arm_app_config(self._config, components_from_ctx(ctx)).ranking.version)
        with telemetry.stage("ranking", ctx, candidates=len(retrieval.candidates), length=length, mode=mode) as scope:
            tracks = ranker.rank(intent, retrieval.candidates, length, mode)
            scope.versions({"ranker": ranker.version})
            scope.set(tracks=len(tracks))
        return RankResult(
            tracks=tracks,
            n_candidates=len(retrieval.candidates),
            versions={**retrieval.versions, "ranker": ranker.version},
        )
