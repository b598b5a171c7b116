"""The transport-free request path: prompts -> intents -> candidates -> playlists, a batch at a time.

The HTTP ingress and the offline tools (eval, bench) both run this code; only
the Stages implementation differs (Ray Serve handles vs in-process objects).
A batch is split by arm, and each arm's group calls each stage once.
"""

from __future__ import annotations

import asyncio
from typing import Sequence, Union

import numpy as np

from serving.arm_plan import ArmPlan
from serving.config import AppConfig
from serving.playlist_ids import new_playlist_id
from serving.playlist_note import shortfall_note
from serving.intent.deployment import build_intent_service
from serving.intent.model import Intent
from serving.intent.service import IntentResult, IntentService
from serving.ranking.base import Ranker, RankItem
from serving.ranking.registry import make_ranker
from serving.retrieval.deployment import build_retriever
from serving.retrieval.retriever import Retriever
from serving.schemas import Feedback, PlaylistRequest, PlaylistResponse, RequestContext, SearchRequest, SearchResponse
from serving.stages import Mode, RankResult, Stages, StageItem

Request = Union[PlaylistRequest, SearchRequest]
Response = Union[PlaylistResponse, SearchResponse]


class Pipeline:
    def __init__(self, stages: Stages, config: AppConfig):
        self.stages = stages
        self.config = config

    def _k(self, length: int) -> int:
        return max(self.config.retrieval.top_k, 5 * length)

    async def playlist(self, req: PlaylistRequest, ctx: RequestContext) -> PlaylistResponse:
        return _raise((await self.playlist_batch([req], [ctx]))[0])

    async def search(self, req: SearchRequest, ctx: RequestContext) -> SearchResponse:
        return _raise((await self.search_batch([req], [ctx]))[0])

    async def playlist_batch(self, reqs: Sequence[PlaylistRequest],
                             ctxs: Sequence[RequestContext]) -> list[PlaylistResponse | Exception]:
        """One response per request, or the exception that request's arm group failed with."""
        return await self._batch(reqs, ctxs, "playlist")

    async def search_batch(self, reqs: Sequence[SearchRequest],
                           ctxs: Sequence[RequestContext]) -> list[SearchResponse | Exception]:
        return await self._batch(reqs, ctxs, "search")

    async def _batch(self, reqs: Sequence[Request], ctxs: Sequence[RequestContext], mode: Mode) -> list:
        groups = ArmPlan.group([c.arm_key for c in ctxs])
        out: list = [None] * len(reqs)

        async def run(idx: list[int]) -> None:
            try:
                for i, resp in zip(idx, await self._group([reqs[i] for i in idx], [ctxs[i] for i in idx], mode)):
                    out[i] = resp
            except Exception as e:  # this arm's group fails; other arms in the batch are unaffected
                for i in idx:
                    out[i] = e

        await asyncio.gather(*(run(idx) for idx in groups.values()))
        return out

    async def _group(self, reqs: Sequence[Request], ctxs: Sequence[RequestContext], mode: Mode) -> list[Response]:
        prompts = [r.prompt if isinstance(r, PlaylistRequest) else r.query for r in reqs]
        irs = await self.stages.intent_batch(prompts, ctxs)
        items = []
        for r, ir, ctx in zip(reqs, irs, ctxs):
            items.append(StageItem(ir.intent, self._k(n := self._length(r, ir)), n, mode, ctx, ir.query_vector,
                                   ir.vector_embedder))
        rrs = await self.stages.retrieve_and_rank_batch(items)
        return [self._response(r, ir, rr, ctx) for r, ir, rr, ctx in zip(reqs, irs, rrs, ctxs)]

    @staticmethod
    def _length(req: Request, ir: IntentResult) -> int:
        if isinstance(req, SearchRequest):
            return req.limit
        # An explicit `length` in the request wins; otherwise "25 songs" in the prompt does.
        return req.length if "length" in req.model_fields_set or ir.intent.length is None else ir.intent.length

    @staticmethod
    def _response(req: Request, ir: IntentResult, rr: RankResult, ctx: RequestContext) -> Response:
        versions = {**ir.versions, **rr.versions}
        if isinstance(req, SearchRequest):
            return SearchResponse(request_id=ctx.request_id, trace_id=ctx.trace_id, arm=ctx.arm, results=rr.tracks,
                                  versions=versions)
        return PlaylistResponse(
            playlist_id=new_playlist_id(), request_id=ctx.request_id, trace_id=ctx.trace_id, arm=ctx.arm,
            experiment_id=ctx.experiment_id, tracks=rr.tracks, intent=ir.intent, versions=versions,
            note=shortfall_note(ir.intent, Pipeline._length(req, ir), len(rr.tracks)),
        )


def _raise(r):
    if isinstance(r, BaseException):
        raise r
    return r


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
        ranker = make_ranker(config.ranking, embedder=retriever.embedder, catalog=retriever.catalog,
                             enrichment=retriever.enrichment)
        return cls(intent, retriever, ranker)

    async def intent_batch(self, prompts: Sequence[str], ctxs: Sequence[RequestContext]) -> list[IntentResult]:
        return await self.intent_service.parse_batch(list(prompts), self.retriever.embedder)

    async def retrieve_and_rank_batch(self, items: Sequence[StageItem]) -> list[RankResult]:
        emb = self.retriever.embedder
        vecs = [it.query_vector if it.query_vector is not None and it.vector_embedder == emb.version else None
                for it in items]
        missing = [i for i, v in enumerate(vecs) if v is None]
        if missing:  # callers without the IntentModel's vectors (raw-prompt ablations, tools)
            for i, v in zip(missing, emb.encode([items[i].intent.query_text() for i in missing])):
                vecs[i] = v
        Q = np.stack(vecs) if vecs else None
        sets = self.retriever.search_batch([it.intent for it in items], Q, [it.k for it in items])
        ranked = self.ranker.rank_batch(
            [RankItem(it.intent, cs, it.length, it.mode, q) for it, cs, q in zip(items, sets, vecs)],
            self.retriever.catalog.tracks)
        versions = {**self.retriever.versions, "ranker": self.ranker.version}
        return [RankResult(tracks, len(cs), versions) for tracks, cs in zip(ranked, sets)]

    async def update_intent(self, previous: Intent, message: str, ctx: RequestContext):
        return await self.intent_service.update(previous, message)

    async def unknown_tracks(self, track_ids: list[str]) -> list[str]:
        return [t for t in track_ids if not self.retriever.has_track(t)]

    async def retrieve_and_rank_feedback(self, intent: Intent, k: int, length: int, ctx: RequestContext,
                                         feedback: Feedback) -> RankResult:
        from serving.ranking.feedback import FeedbackRanking

        q = self.retriever.embed_query(intent)
        candidates = self.retriever.search_feedback(intent, k, feedback, q)
        # `feedback_ranking` may be set to one with other weights (evaluation, `segue tune-feedback`).
        if getattr(self, "feedback_ranking", None) is None or self.feedback_ranking.ranker is not self.ranker:
            self.feedback_ranking = FeedbackRanking(self.ranker)
        tracks = self.feedback_ranking.rank(intent, candidates, length, feedback,
                                             getattr(self.ranker, "max_per_artist", 5), "playlist", q,
                                             vectors=self.retriever.feedback_vectors(feedback))
        return RankResult(tracks, len(candidates), {**self.retriever.versions, "ranker": self.ranker.version})

    async def ready(self) -> tuple[bool, str]:
        return True, "in-process"
