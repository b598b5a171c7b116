"""The transport-free request path: prompt -> intent -> candidates -> playlist.

The HTTP ingress and the offline tools (eval, bench) both run this code; only
the Stages implementation differs (Ray Serve handles vs in-process objects).
"""

from __future__ import annotations

from serving.config import AppConfig
from serving.playlist_ids import new_playlist_id
from serving.intent.deployment import build_intent_service
from serving.intent.model import Intent
from serving.intent.service import IntentResult, IntentService
from serving.ranking.base import Ranker
from serving.ranking.registry import make_ranker
from serving.retrieval.deployment import build_retriever
from serving.retrieval.retriever import Retriever
from serving.schemas import PlaylistRequest, PlaylistResponse, RequestContext, SearchRequest, SearchResponse
from serving.stages import Mode, RankResult, Stages


class Pipeline:
    def __init__(self, stages: Stages, config: AppConfig):
        self.stages = stages
        self.config = config

    def _k(self, length: int) -> int:
        return max(self.config.retrieval.top_k, 5 * length)

    async def playlist(self, req: PlaylistRequest, ctx: RequestContext) -> PlaylistResponse:
        ir = await self.stages.intent(req.prompt, ctx)
        # An explicit `length` in the request wins; otherwise "25 songs" in the prompt does.
        length = req.length if "length" in req.model_fields_set or ir.intent.length is None else ir.intent.length
        rr = await self.stages.retrieve_and_rank(ir.intent, self._k(length), length, "playlist", ctx)
        return PlaylistResponse(
            playlist_id=new_playlist_id(),
            request_id=ctx.request_id,
            trace_id=ctx.trace_id,
            arm=ctx.arm,
            experiment_id=ctx.experiment_id,
            tracks=rr.tracks,
            intent=ir.intent,
            versions={**ir.versions, **rr.versions},
        )

    async def search(self, req: SearchRequest, ctx: RequestContext) -> SearchResponse:
        ir = await self.stages.intent(req.query, ctx)
        rr = await self.stages.retrieve_and_rank(ir.intent, self._k(req.limit), req.limit, "search", ctx)
        return SearchResponse(
            request_id=ctx.request_id, trace_id=ctx.trace_id, arm=ctx.arm, results=rr.tracks,
            versions={**ir.versions, **rr.versions},
        )


class InProcessStages(Stages):
    """All stages as plain objects in this process (one shared embedder)."""

    def __init__(self, intent: IntentService, retriever: Retriever, ranker: Ranker):
        self.intent_service = intent
        self.retriever = retriever
        self.ranker = ranker

    @classmethod
    def from_config(cls, config: AppConfig, progress=None) -> "InProcessStages":
        retriever = build_retriever(config, progress=progress)
        intent = build_intent_service(config, embedder=retriever.embedder)
        return cls(intent, retriever, make_ranker(config.ranking, embedder=retriever.embedder,
                                                  enrichment=retriever.enrichment))

    async def intent(self, prompt: str, ctx: RequestContext) -> IntentResult:
        return await self.intent_service.parse(prompt)

    async def retrieve_and_rank(self, intent: Intent, k: int, length: int, mode: Mode, ctx: RequestContext) -> RankResult:
        candidates = self.retriever.search(intent, k)
        tracks = self.ranker.rank(intent, candidates, length, mode)
        return RankResult(
            tracks=tracks,
            n_candidates=len(candidates),
            versions={**self.retriever.versions, "ranker": self.ranker.version},
        )

    async def ready(self) -> tuple[bool, str]:
        return True, "in-process"
