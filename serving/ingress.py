"""FastAPI routes of the Ingress deployment and the Serve-handle Stages they drive.

No `from __future__ import annotations` here: Serve rebuilds the route signatures
in its own module, where string annotations would not resolve."""


import re
import uuid

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from serving import __version__, telemetry
from serving.config import AppConfig
from serving.http_errors import install_error_handlers
from serving.intent.model import Intent
from serving.intent.service import IntentResult
from serving.pipeline import Pipeline
from serving.schemas import PlaylistRequest, PlaylistResponse, RequestContext, SearchRequest, SearchResponse
from serving.stages import Mode, RankResult, Stages

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class HandleStages(Stages):
    """Stages over Ray Serve deployment handles."""

    def __init__(self, intent, retriever, ranker):
        self._intent, self._retriever, self._ranker = intent, retriever, ranker

    async def intent(self, prompt: str, ctx: RequestContext) -> IntentResult:
        return await self._intent.parse.remote(prompt, ctx)

    async def retrieve_and_rank(self, intent: Intent, k: int, length: int, mode: Mode, ctx: RequestContext) -> RankResult:
        # The retrieval result goes straight to the ranker: Serve hands the object
        # over without routing ~k candidates back through the ingress.
        retrieval = self._retriever.search.remote(intent, k, ctx)
        return await self._ranker.rank.remote(intent, retrieval, length, mode, ctx)

    async def ready(self) -> tuple[bool, str]:
        return await self._retriever.ready.remote()


def create_api(config: AppConfig) -> FastAPI:
    api = FastAPI(
        title="Segue",
        version=__version__,
        description="Prompted playlists and music search. Errors are JSON: {error, message, request_id, details}.",
        **telemetry.fastapi_options(),
    )
    install_error_handlers(api)

    @api.middleware("http")
    async def _request_id(request: Request, call_next):
        # Every response, errors included, names its request id (Serve's proxy
        # sets x-request-id; a well-formed client value is kept).
        rid = request.headers.get("x-request-id", "")
        request.state.request_id = rid if _REQUEST_ID.match(rid) else uuid.uuid4().hex
        response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        response.headers.update(telemetry.response_headers(request.headers))
        return response

    return api


def request_context(request: Request, user_id: str | None) -> RequestContext:
    rid = getattr(request.state, "request_id", None) or uuid.uuid4().hex
    return RequestContext(request_id=rid, user_key=user_id or rid)


class IngressCore:
    """Route logic, free of Serve decorators; the deployment class adds the routes."""

    def __init__(self, stages: Stages, config: AppConfig):
        self.config = config
        self.pipeline = Pipeline(stages, config)

    async def create_playlist(self, body: PlaylistRequest, request: Request) -> PlaylistResponse:
        ctx = request_context(request, body.user_id)
        with telemetry.request("playlist", ctx, request.headers) as scope:
            response = await self.pipeline.playlist(body, scope.ctx)
            scope.versions(response.versions)
            scope.set(tracks=len(response.tracks), intent_source=response.intent.source.value)
        return response

    async def search(self, body: SearchRequest, request: Request) -> SearchResponse:
        ctx = request_context(request, body.user_id)
        with telemetry.request("search", ctx, request.headers) as scope:
            response = await self.pipeline.search(body, scope.ctx)
            scope.versions(response.versions)
            scope.set(tracks=len(response.results))
        return response

    async def readyz(self) -> JSONResponse:
        ok, why = await self.pipeline.stages.ready()
        return JSONResponse({"ready": ok, "detail": why}, status_code=200 if ok else 503)


def ingress_class(api: FastAPI, ingress_decorator) -> type:
    """Bind the routes to a class; `ingress_decorator` is serve.ingress(api) (app.py owns Ray)."""

    class Ingress(IngressCore):
        def __init__(self, intent, retriever, ranker, config: AppConfig):
            super().__init__(HandleStages(intent, retriever, ranker), config)

        @api.post("/v1/playlists", response_model=PlaylistResponse, summary="Prompt -> ranked, sequenced playlist")
        async def playlists(self, body: PlaylistRequest, request: Request) -> PlaylistResponse:
            return await self.create_playlist(body, request)

        @api.post("/v1/search", response_model=SearchResponse, summary="Free-text music search")
        async def search_route(self, body: SearchRequest, request: Request) -> SearchResponse:
            return await self.search(body, request)

        @api.get("/healthz", summary="Liveness: the ingress answers")
        async def healthz(self) -> dict:
            return {"status": "ok", "version": __version__}

        @api.get("/readyz", summary="Readiness: 200 only once the index is loaded")
        async def readyz_route(self) -> JSONResponse:
            return await self.readyz()

    return ingress_decorator(Ingress)
