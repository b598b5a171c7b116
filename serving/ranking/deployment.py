"""The Ranker deployment: scores retrieval results into playlists, a batch at a time.

Holds every ranker version the experiment's arms use side by side (rankers are small): its
variants are ranker objects by version, and its arm plan maps each arm key to one of them.
Learned rankers use the query vector the IntentModel made: this replica never loads the
embedding model, it only checks which model made the vectors it is handed."""

from __future__ import annotations

from contextlib import ExitStack

from serving import telemetry
from serving.arm_plan import ArmPlan
from serving.catalog.loader import load_catalog
from serving.config import AppConfig
from serving.experiments.components import all_arm_components, arm_app_config
from serving.experiments.config import ArmComponents
from serving.intent.model import Intent
from serving.metrics import BatchStats
from serving.ranking.base import Ranker, RankItem
from serving.ranking.ltr import ArtifactError
from serving.ranking.registry import make_ranker
from serving.retrieval.embedder import embedder_version
from serving.ranking.feedback import FeedbackRanking
from serving.schemas import Feedback, RequestContext
from serving.stages import Mode, RankResult, RetrievalResult, StageItem


class RankerDeployment:
    def __init__(self, config: AppConfig):
        self._config = config
        self._catalog = load_catalog(config.catalog.path)
        self._rankers: dict[str, Ranker] = {}  # the variants: one object per ranker version
        self._batches = BatchStats()
        self._feedback: dict[str, FeedbackRanking] = {}
        self.plan: ArmPlan[Ranker] = ArmPlan(self._resolve, all_arm_components(config))

    def _enrichment_once(self):
        # The same artifact the Retriever filters with (shipped, cached, or built from the index cache),
        # so borrowed candidates obey the same genre/era/stand-in rules. Only learned rankers borrow.
        if not hasattr(self, "_enrichment"):
            from serving.catalog.enrichment.store import load_served

            self._enrichment = load_served(self._config, self._catalog)
        return self._enrichment

    def _resolve(self, comps: ArmComponents | None) -> Ranker:
        # A live config may name a registered ranker no arm used at start-up: built once, here.
        cfg = arm_app_config(self._config, comps)
        version = cfg.ranking.version
        if version not in self._rankers:
            ranker = make_ranker(self._config.ranking.model_copy(update={"version": version}),
                                 catalog=self._catalog,
                                 embedder_version=embedder_version(cfg.retrieval.embedder),
                                 enrichment=self._enrichment_once)
            self._rankers[version] = ranker
            # Its session wrapper (co-occurrence index, prior vectors) is built with it, not on a turn.
            self._feedback[version] = FeedbackRanking(ranker)
        return self._rankers[version]

    def rank_feedback(self, intent: Intent, retrieval, length: int, ctx: RequestContext, feedback: Feedback
                      ) -> RankResult:
        """A session turn: `retrieval` is Retriever.search_feedback's (candidates, q, versions, vectors)."""
        candidates, q, versions, vectors = retrieval
        ranker = self.plan.for_arm(ctx.arm_key)
        with telemetry.stage("ranking", ctx, candidates=len(candidates), length=length, mode="playlist",
                             feedback=True) as scope:
            tracks = self._feedback[ranker.version].rank(
                intent, candidates, length, feedback,
                getattr(ranker, "max_per_artist", self._config.ranking.max_per_artist), "playlist", q,
                vectors=vectors)
            scope.versions({"ranker": ranker.version})
            scope.set(tracks=len(tracks))
        return RankResult(tracks=tracks, n_candidates=len(candidates), versions={**versions, "ranker": ranker.version})

    def batch_stats(self) -> dict[str, int]:
        return self._batches.snapshot()

    def rank(
        self, intent: Intent, retrieval: RetrievalResult, length: int, mode: Mode, ctx: RequestContext
    ) -> RankResult:
        return self.rank_batch([StageItem(intent, len(retrieval.candidates), length, mode, ctx)], [retrieval])[0]

    def rank_batch(self, items: list[StageItem], retrievals: list[RetrievalResult]) -> list[RankResult]:
        """One arm's batch: vectorised features and one model predict for all of it."""
        self._batches.record("ranking", len(items))
        ranker = self.plan.for_arm(items[0].ctx.arm_key if items else "")
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
