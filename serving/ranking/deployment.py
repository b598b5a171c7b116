"""The Ranker deployment: scores retrieval results into playlists, a batch at a time.

Holds every ranker version the experiment's arms use side by side (rankers are
small), and picks the one named in the batch's arm components (the Ingress groups
batches by arm). Learned rankers use the query vector the IntentModel made: this
replica never loads the embedding model, only checks which model made the vectors."""

from __future__ import annotations

from contextlib import ExitStack

from serving import telemetry
from serving.catalog.loader import load_catalog
from serving.config import AppConfig
from serving.experiments.components import all_arm_components, arm_app_config, components_from_ctx
from serving.intent.model import Intent
from serving.metrics import BatchStats
from serving.ranking.base import Ranker, RankItem
from serving.ranking.ltr import ArtifactError
from serving.ranking.registry import make_ranker
from serving.retrieval.embedder import embedder_version
from serving.schemas import RequestContext
from serving.stages import Mode, RankResult, RetrievalResult, StageItem


class RankerDeployment:
    def __init__(self, config: AppConfig):
        self._config = config
        self._catalog = load_catalog(config.catalog.path)
        self._rankers: dict[str, Ranker] = {}
        self._batches = BatchStats()
        for comps in all_arm_components(config):
            self._get(arm_app_config(config, comps))

    def _get(self, cfg: AppConfig) -> Ranker:
        # A live config may name a registered ranker no arm used at start-up: build it once.
        version = cfg.ranking.version
        if version not in self._rankers:
            self._rankers[version] = make_ranker(self._config.ranking.model_copy(update={"version": version}),
                                                 catalog=self._catalog,
                                                 embedder_version=embedder_version(cfg.retrieval.embedder))
        return self._rankers[version]

    def batch_stats(self) -> dict[str, int]:
        return self._batches.snapshot()

    def rank(
        self, intent: Intent, retrieval: RetrievalResult, length: int, mode: Mode, ctx: RequestContext
    ) -> RankResult:
        return self.rank_batch([StageItem(intent, len(retrieval.candidates), length, mode, ctx)], [retrieval])[0]

    def rank_batch(self, items: list[StageItem], retrievals: list[RetrievalResult]) -> list[RankResult]:
        """One arm's batch: vectorised features and one model predict for all of it."""
        self._batches.record("ranking", len(items))
        ranker = self._get(arm_app_config(self._config, components_from_ctx(items[0].ctx) if items else None))
        with ExitStack() as stack:
            scopes = [stack.enter_context(telemetry.stage("ranking", it.ctx, candidates=len(r.candidates),
                                                          length=it.length, mode=it.mode, batch=len(items)))
                      for it, r in zip(items, retrievals)]
            expected = getattr(ranker, "embedder_version", None)
            for it in items:
                if expected and it.query_vector is not None and it.vector_embedder != expected:
                    raise ArtifactError(f"ranker '{ranker.version}' needs vectors from {expected}, got "
                                        f"{it.vector_embedder}; give the arm the embedder the ranker was trained with")
            ranked = ranker.rank_batch(
                [RankItem(it.intent, r.candidates, it.length, it.mode, it.query_vector)
                 for it, r in zip(items, retrievals)], self._catalog.tracks)
            for scope, tracks in zip(scopes, ranked):
                scope.versions({"ranker": ranker.version})
                scope.set(tracks=len(tracks))
        return [RankResult(tracks=tracks, n_candidates=len(r.candidates), versions={**r.versions, "ranker": ranker.version})
                for tracks, r in zip(ranked, retrievals)]
