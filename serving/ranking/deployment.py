"""The Ranker deployment: scores retrieval results into a playlist."""

from __future__ import annotations

import time

from serving import telemetry
from serving.config import AppConfig
from serving.intent.model import Intent
from serving.ranking.registry import make_ranker
from serving.schemas import RequestContext
from serving.stages import Mode, RankResult, RetrievalResult


class RankerDeployment:
    def __init__(self, config: AppConfig):
        self._ranker = make_ranker(config.ranking)

    def rank(
        self, intent: Intent, retrieval: RetrievalResult, length: int, mode: Mode, ctx: RequestContext
    ) -> RankResult:
        t0 = time.perf_counter()
        with telemetry.stage("ranking", ctx, candidates=len(retrieval.candidates), length=length, mode=mode) as scope:
            tracks = self._ranker.rank(intent, retrieval.candidates, length, mode)
            scope.versions({"ranker": self._ranker.version})
            scope.set(tracks=len(tracks))
        return RankResult(
            tracks=tracks,
            n_candidates=len(retrieval.candidates),
            versions={**retrieval.versions, "ranker": self._ranker.version},
            retrieval_ms=retrieval.latency_ms,
            ranking_ms=(time.perf_counter() - t0) * 1000,
        )
