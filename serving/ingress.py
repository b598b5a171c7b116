"""FastAPI routes of the Ingress deployment and the Serve-handle Stages they drive.

No `from __future__ import annotations` here: Serve rebuilds the route signatures
in its own module, where string annotations would not resolve."""


import logging
import time
import uuid

from fastapi import FastAPI, Path, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from serving import __version__, telemetry
from serving.config import AppConfig
from serving.errors import StageUnavailable
from serving.http_errors import install_error_handlers
from serving.metrics import record_feedback
from serving.intent.model import Intent
from serving.intent.service import IntentResult
from serving.pipeline import Pipeline
from serving.security.auth import AdminAuth
from serving.security.client_id import ClientIdentity
from serving.security.concurrency import ConcurrencyLimiter
from serving.security.middleware import IngressGuard
from serving.security.ratelimit import TokenBucketLimiter
from serving.experiments.runtime import OVERRIDE_HEADER, ArmMeter, ExperimentRuntime, OutcomeSink
from serving.schemas import (
    FeedbackRequest, FeedbackResponse, PlaylistRequest, PlaylistResponse, RequestContext, SearchRequest, SearchResponse,
)
from serving.stages import Mode, RankResult, Stages

log = logging.getLogger(__name__)
EXPERIMENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class HandleStages(Stages):
    """Stages over Ray Serve deployment handles.

    Every stage call is an idempotent read, so a call that died with its replica
    (killed, OOM, node lost) is retried once on another replica instead of failing
    the listener's request."""

    def __init__(self, intent, retriever, ranker):
        self._intent, self._retriever, self._ranker = intent, retriever, ranker

    async def intent(self, prompt: str, ctx: RequestContext) -> IntentResult:
        return await _retry_on_replica_death(lambda: self._intent.parse.remote(prompt, ctx))

    async def retrieve_and_rank(self, intent: Intent, k: int, length: int, mode: Mode, ctx: RequestContext) -> RankResult:
        # The retrieval result goes straight to the ranker: Serve hands the object
        # over without routing ~k candidates back through the ingress.
        def call():
            retrieval = self._retriever.search.remote(intent, k, ctx)
            return self._ranker.rank.remote(intent, retrieval, length, mode, ctx)

        return await _retry_on_replica_death(call)

    async def ready(self) -> tuple[bool, str]:
        return await self._retriever.ready.remote()


async def _retry_on_replica_death(call, attempts: int = 2):
    from ray.exceptions import ActorDiedError, ActorUnavailableError

    for attempt in range(attempts):
        try:
            return await call()
        except (ActorDiedError, ActorUnavailableError) as e:
            if attempt == attempts - 1:
                raise StageUnavailable(f"a stage replica died and the retry failed too: {type(e).__name__}",
                                       retry_after_s=2) from e
            log.warning("stage replica died (%s); retrying once", type(e).__name__)


def create_api(config: AppConfig) -> FastAPI:
    api = FastAPI(
        title="Segue",
        # Starlette's slash redirect builds its Location from the Host header (an open redirect).
        redirect_slashes=False,
        version=__version__,
        description="Prompted playlists and music search. Errors are JSON: {error, message, request_id, details}.",
        **telemetry.fastapi_options(),
    )
    install_error_handlers(api)
    sec = config.security
    limiter = None
    if sec.rate_limit.enabled:
        limiter = TokenBucketLimiter(sec.rate_limit.requests_per_s, sec.rate_limit.burst, sec.rate_limit.max_clients)
    if sec.cors_origins:  # closed unless origins are named: no wildcard default
        api.add_middleware(CORSMiddleware, allow_origins=list(sec.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["content-type", "authorization", "x-request-id", "traceparent"],
                           expose_headers=["x-request-id", "x-trace-id", "traceresponse", "retry-after"])
    api.add_middleware(IngressGuard, max_body_bytes=sec.max_body_bytes, limiter=limiter,
                       identity=ClientIdentity(sec.trust_forwarded_for, sec.trusted_proxies),
                       concurrency=ConcurrencyLimiter(sec.rate_limit.max_in_flight_per_client)
                       if sec.rate_limit.enabled else None)
    # Outermost, so the guard's own 413/429 replies carry the trace id too.
    api.add_middleware(telemetry.TraceHeaders)
    return api


def _assignment(experiments: ExperimentRuntime, request: Request, user_id):
    rid = getattr(request.state, "request_id", None) or uuid.uuid4().hex
    headers = {h: request.headers[h] for h in (OVERRIDE_HEADER, "authorization") if h in request.headers}
    return experiments.assign(rid, user_id, headers)


class IngressCore:
    """Route logic, free of Serve decorators; the deployment class adds the routes."""

    def __init__(self, stages: Stages, config: AppConfig, sink: OutcomeSink | None = None, meter: ArmMeter | None = None):
        if sink is None or meter is None:  # one process, no Serve: keep the outcomes here
            from serving.experiments.runtime import LocalArmMeter
            from serving.experiments.sinks import LocalOutcomeSink

            sink, meter = sink or LocalOutcomeSink(), meter or LocalArmMeter()
        self.config = config
        self.pipeline = Pipeline(stages, config)
        # The admin token is read once here, never per request.
        admin = AdminAuth.from_env(config.security.admin_token_env)
        self.experiments = ExperimentRuntime(config, sink, meter, admin)

    def reconfigure(self, user_config) -> None:
        self.experiments.reconfigure(user_config)

    async def create_playlist(self, body: PlaylistRequest, request: Request) -> PlaylistResponse:
        a = _assignment(self.experiments, request, body.user_id)
        t0 = time.perf_counter()
        with telemetry.request("playlist", a.ctx, request.headers) as scope:
            try:
                resp = await self.pipeline.playlist(body, scope.ctx)
            except Exception:
                self.experiments.failed(a, (time.perf_counter() - t0) * 1000)
                raise
            scope.versions(resp.versions)
            scope.set(tracks=len(resp.tracks), intent_source=resp.intent.source.value)
        ids = [t.track_id for t in resp.tracks]
        self.experiments.served(a, resp.playlist_id, ids, (time.perf_counter() - t0) * 1000,
                                intent_fallback=resp.intent.source.value.startswith("fallback_"))

        async def shadow(ctx: RequestContext) -> list[str]:
            return [t.track_id for t in (await self.pipeline.playlist(body, ctx)).tracks]

        self.experiments.maybe_shadow(a, ids, shadow)
        return resp

    async def search(self, body: SearchRequest, request: Request) -> SearchResponse:
        ctx = _assignment(self.experiments, request, body.user_id).ctx
        with telemetry.request("search", ctx, request.headers) as scope:
            response = await self.pipeline.search(body, scope.ctx)
            scope.versions(response.versions)
            scope.set(tracks=len(response.results))
        return response

    async def feedback(self, body: FeedbackRequest) -> FeedbackResponse:
        res = await self.experiments.feedback(body.playlist_id, body.track_id, body.event)
        if res.counted:
            record_feedback(res.experiment_id, res.arm, body.event)
        return FeedbackResponse(playlist_id=res.playlist_id, arm=res.arm, experiment_id=res.experiment_id,
                                counted=res.counted)

    async def experiment_summary(self, experiment_id: str) -> dict:
        return await self.experiments.summary(experiment_id)

    async def readyz(self) -> JSONResponse:
        ok, why = await self.pipeline.stages.ready()
        return JSONResponse({"ready": ok, "detail": why}, status_code=200 if ok else 503)


def ingress_class(api: FastAPI, ingress_decorator) -> type:
    """Bind the routes to a class; `ingress_decorator` is serve.ingress(api) (app.py owns Ray)."""

    class Ingress(IngressCore):
        def __init__(self, intent, retriever, ranker, config: AppConfig, outcomes=None):
            from serving.experiments.metrics import RayArmMeter
            from serving.experiments.sinks import HandleOutcomeSink

            super().__init__(HandleStages(intent, retriever, ranker), config, HandleOutcomeSink(outcomes), RayArmMeter())

        @api.post("/v1/playlists", response_model=PlaylistResponse, summary="Prompt -> ranked, sequenced playlist")
        async def playlists(self, body: PlaylistRequest, request: Request) -> PlaylistResponse:
            return await self.create_playlist(body, request)

        @api.post("/v1/search", response_model=SearchResponse, summary="Free-text music search")
        async def search_route(self, body: SearchRequest, request: Request) -> SearchResponse:
            return await self.search(body, request)

        @api.post("/v1/feedback", response_model=FeedbackResponse,
                  summary="A listener's play/skip/like/save of a track in a served playlist")
        async def feedback_route(self, body: FeedbackRequest) -> FeedbackResponse:
            return await self.feedback(body)

        @api.get("/v1/experiments/{experiment_id}",
                 summary="Per-arm exposures and outcomes, rates with CIs, SRM and sequential tests")
        async def experiment_route(
            self, experiment_id: str = Path(max_length=64, pattern=EXPERIMENT_ID_PATTERN,
                                            description="An experiment id from the config, e.g. ranker-canary"),
        ) -> dict:
            return await self.experiment_summary(experiment_id)

        @api.get("/healthz", summary="Liveness: the ingress answers")
        async def healthz(self) -> dict:
            return {"status": "ok", "version": __version__}

        @api.get("/readyz", summary="Readiness: 200 only once the index is loaded")
        async def readyz_route(self) -> JSONResponse:
            return await self.readyz()

    return ingress_decorator(Ingress)
