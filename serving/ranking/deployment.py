"""The Ranker deployment: scores retrieval results into a playlist.

Holds every ranker version the experiment's arms use side by side (rankers are
small): its variants are ranker objects by version, and its arm plan maps each arm
key to one of them."""

from __future__ import annotations

from serving import telemetry
from serving.arm_plan import ArmPlan
from serving.config import AppConfig
from serving.experiments.components import all_arm_components, arm_app_config
from serving.experiments.config import ArmComponents
from serving.intent.model import Intent
from serving.ranking.base import Ranker
from serving.ranking.registry import make_ranker
from serving.schemas import RequestContext
from serving.stages import Mode, RankResult, RetrievalResult


class RankerDeployment:
    def __init__(self, config: AppConfig):
        self._config = config
        self._rankers: dict[str, Ranker] = {}  # the variants: one object per ranker version
        self._embedder = None
        self.plan: ArmPlan[Ranker] = ArmPlan(self._resolve, all_arm_components(config))

    def _embedder_once(self):
        # Learned rankers embed the request to find similar past requests; one model serves
        # every learned version, and a replica with only rule-based rankers never loads it.
        if self._embedder is None:
            from serving.retrieval.embedder import make_embedder

            self._embedder = make_embedder(self._config.retrieval.embedder)
        return self._embedder

    def _resolve(self, comps: ArmComponents | None) -> Ranker:
        # A live config may name a registered ranker no arm used at start-up: built once, here.
        version = arm_app_config(self._config, comps).ranking.version
        if version not in self._rankers:
            self._rankers[version] = make_ranker(self._config.ranking.model_copy(update={"version": version}),
                                                 embedder=self._embedder_once)
        return self._rankers[version]

    def rank(
        self, intent: Intent, retrieval: RetrievalResult, length: int, mode: Mode, ctx: RequestContext
    ) -> RankResult:
        ranker = self.plan.for_arm(ctx.arm_key)
        with telemetry.stage("ranking", ctx, candidates=len(retrieval.candidates), length=length, mode=mode) as scope:
            tracks = ranker.rank(intent, retrieval.candidates, length, mode)
            scope.versions({"ranker": ranker.version})
            scope.set(tracks=len(tracks))
        return RankResult(
            tracks=tracks,
            n_candidates=len(retrieval.candidates),
            versions={**retrieval.versions, "ranker": ranker.version},
        )
