"""FastAPI routes of the Ingress deployment and the Serve-handle Stages they drive.

No `from __future__ import annotations` here: Serve rebuilds the route signatures
in its own module, where string annotations would not resolve."""


import asyncio
import logging
import time
import uuid
from typing import Callable

from fastapi import FastAPI, Path, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from serving import __version__, telemetry
from serving.admission import Admission
from serving.config import AppConfig
from serving.console.routes import add_console_routes
from serving.errors import StageUnavailable
from serving.http_errors import install_error_handlers
from serving.metrics import SegueMetrics, default_metrics
from serving.intent.model import Intent
from serving.intent.service import IntentResult
from serving.pipeline import Pipeline
from serving.security.auth import AdminAuth
from serving.security.client_id import ClientIdentity
from serving.security.concurrency import ConcurrencyLimiter
from serving.security.middleware import IngressGuard
from serving.security.ratelimit import TokenBucketLimiter
from serving.experiments.runtime import OVERRIDE_HEADER, ExperimentRuntime, OutcomeSink
from serving.schemas import (
    Feedback, FeedbackRequest, FeedbackResponse, PlaylistRequest, PlaylistResponse, RequestContext, SearchRequest,
    SearchResponse,
)
from serving.stages import RankResult, Stages
from serving.sessions.schemas import SessionHistory, SessionRequest, SessionResponse, TurnRequest

log = logging.getLogger(__name__)
EXPERIMENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class HandleStages(Stages):
    """Stages over Ray Serve deployment handles.

    Every stage call is an idempotent read, so a call that died with its replica
    (killed, OOM, node lost) is retried once on another replica instead of failing
    the listener's request."""

    def __init__(self, intent, retriever, ranker):
        self._intent, self._retriever, self._ranker = intent, retriever, ranker

    async def intent_batch(self, prompts, ctxs) -> list[IntentResult]:
        return await _retry_on_replica_death(lambda: self._intent.parse_batch.remote(list(prompts), list(ctxs)))

    async def retrieve_and_rank_batch(self, items) -> list[RankResult]:
        # The retrieval results go straight to the ranker: Serve hands them over without
        # routing the candidate sets back through the ingress. One call per stage per batch.
        items = list(items)

        def call():
            retrieval = self._retriever.search_batch.remote(items)
            return self._ranker.rank_batch.remote(items, retrieval)

        return await _retry_on_replica_death(call)

    async def update_intent(self, previous: Intent, message: str, ctx: RequestContext):
        return await _retry_on_replica_death(lambda: self._intent.update.remote(previous, message, ctx))

    async def unknown_tracks(self, track_ids: list[str]) -> list[str]:
        if not track_ids:
            return []
        return await _retry_on_replica_death(lambda: self._retriever.unknown_tracks.remote(track_ids))

    async def retrieve_and_rank_feedback(self, intent: Intent, k: int, length: int, ctx: RequestContext,
                                         feedback: Feedback) -> RankResult:
        def call():
            retrieval = self._retriever.search_feedback.remote(intent, k, ctx, feedback)
            return self._ranker.rank_feedback.remote(intent, retrieval, length, ctx, feedback)

        return await _retry_on_replica_death(call)

    async def ready(self) -> tuple[bool, str]:
        return await self._retriever.ready.remote()


def _replica_died(e: BaseException) -> bool:
    """A stage replica died under the call: directly, or upstream of it (a Retriever result
    handed to the Ranker comes back as a RayServeException caused by the ActorDiedError)."""
    from ray.exceptions import ActorDiedError, ActorUnavailableError

    died = (ActorDiedError, ActorUnavailableError)
    return isinstance(e, died) or isinstance(e.__cause__, died)


async def _retry_on_replica_death(call, attempts: int = 3, backoff_s: float = 0.2):
    """Idempotent stage calls only. The pause lets the router drop the dead replica first."""
    for attempt in range(attempts):
        try:
            return await call()
        except Exception as e:  # noqa: BLE001 - only a replica death is retried; the rest propagates
            if not _replica_died(e):
                raise
            if attempt == attempts - 1:
                raise StageUnavailable(f"a stage replica died and the retry failed too: {type(e).__name__}",
                                       retry_after_s=2) from e
            log.warning("stage replica died (%s); retrying (try %d of %d)", type(e).__name__, attempt + 2, attempts)
            await asyncio.sleep(backoff_s * (attempt + 1))


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
    add_console_routes(api)
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
                       concurrency=ConcurrencyLimiter(sec.rate_limit.max_in_flight_per_client,
                                                      sec.rate_limit.fair_share_above)
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

    def __init__(self, stages: Stages, config: AppConfig, sink: OutcomeSink | None = None,
                 metrics: SegueMetrics | None = None, batch: Callable | None = None, sessions=None):
        """`batch` turns an async function of a list into an async function of one item
        (serving/microbatch.py with AppConfig.batching, given by app.py); None = no batching."""
        if sink is None:  # one process, no Serve: keep the outcomes here
            from serving.experiments.sinks import LocalOutcomeSink

            sink = LocalOutcomeSink()
        self.config = config
        self.pipeline = Pipeline(stages, config)
        # The admin token is read once here, never per request.
        admin = AdminAuth.from_env(config.security.admin_token_env)
        self.experiments = ExperimentRuntime(config, sink, metrics or default_metrics(), admin)
        self.admission = Admission(config.admission, config.deployments.ingress.max_ongoing_requests)
        self.sessions = sessions  # a SessionService, or None where no store is configured
        self._submit = batch(self._run_batch) if batch is not None else self._run_one

    def _sessions(self):
        if self.sessions is None:
            from serving.errors import NotReady

            raise NotReady("sessions need the store; it is not configured on this deployment", retry_after_s=30)
        return self.sessions

    async def create_session(self, body: SessionRequest, request: Request) -> SessionResponse:
        svc = self._sessions()
        a = _assignment(self.experiments, request, body.user_id)
        t0 = time.perf_counter()
        with telemetry.request("session", a.ctx, request.headers) as scope:
            try:
                resp = await svc.create(body, scope.ctx)
            except Exception:
                self.experiments.failed(a, (time.perf_counter() - t0) * 1000)
                raise
            scope.set(session_id=resp.session_id, turn=0, tracks=len(resp.playlist))
            scope.versions(resp.versions)
        # The session's first playlist is an exposure of its arm, like any served playlist.
        from serving.playlist_ids import new_playlist_id

        self.experiments.served(a, new_playlist_id(), [t.track_id for t in resp.playlist],
                                (time.perf_counter() - t0) * 1000,
                                intent_fallback=resp.intent.source.value.startswith("fallback_"))
        return resp

    async def session_turn(self, session_id: str, body: TurnRequest, request: Request) -> SessionResponse:
        svc = self._sessions()
        state = await svc.load_for_turn(session_id, body)
        rid = getattr(request.state, "request_id", None) or uuid.uuid4().hex
        ctx = svc.turn_context(state, RequestContext(request_id=rid, user_key=state.user_id))
        with telemetry.request("session_turn", ctx, request.headers) as scope:
            resp = await svc.turn(state, body, scope.ctx)
            scope.set(session_id=resp.session_id, turn=resp.turn, tracks=len(resp.playlist))
            scope.versions(resp.versions)
        return resp

    async def session_history(self, session_id: str) -> SessionHistory:
        return await self._sessions().history(session_id)

    async def _run_one(self, item):
        return (await self._run_batch([item]))[0]

    async def _run_batch(self, items: list) -> list:
        """(kind, body, ctx) items -> response or exception each; the pipeline groups by arm and
        calls each stage once per group."""
        with telemetry.attached(items[0][2] if items else None):
            return await self._run_kinds(items)

    async def _run_kinds(self, items: list) -> list:
        out: list = [None] * len(items)
        for kind, run in (("playlist", self.pipeline.playlist_batch), ("search", self.pipeline.search_batch)):
            idx = [i for i, it in enumerate(items) if it[0] == kind]
            if idx:
                for i, r in zip(idx, await run([items[i][1] for i in idx], [items[i][2] for i in idx])):
                    out[i] = r
        return out

    async def _answer(self, kind: str, body, ctx: RequestContext):
        r = await self._submit((kind, body, ctx))
        if isinstance(r, BaseException):
            raise r
        return r

    def reconfigure(self, user_config) -> None:
        self.experiments.reconfigure(user_config)

    async def create_playlist(self, body: PlaylistRequest, request: Request) -> PlaylistResponse:
        with self.admission.admit():
            return await self._create_playlist(body, request)

    async def _create_playlist(self, body: PlaylistRequest, request: Request) -> PlaylistResponse:
        a = _assignment(self.experiments, request, body.user_id)
        t0 = time.perf_counter()
        with telemetry.request("playlist", a.ctx, request.headers) as scope:
            try:
                resp = await self._answer("playlist", body, scope.ctx)
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
        with self.admission.admit():
            ctx = _assignment(self.experiments, request, body.user_id).ctx
            with telemetry.request("search", ctx, request.headers) as scope:
                response = await self._answer("search", body, scope.ctx)
                scope.versions(response.versions)
                scope.set(tracks=len(response.results))
            return response

    async def feedback(self, body: FeedbackRequest) -> FeedbackResponse:
        res = await self.experiments.feedback(body.playlist_id, body.track_id, body.event)
        return FeedbackResponse(playlist_id=res.playlist_id, arm=res.arm, experiment_id=res.experiment_id,
                                counted=res.counted)

    async def experiment_summary(self, experiment_id: str) -> dict:
        return await self.experiments.summary(experiment_id)

    def console_config(self) -> dict:
        """What the console pages need to know; never a secret (the admin token is typed by the user)."""
        return {"version": __version__, "trace_ui_url": self.config.telemetry.trace_ui_url,
                "experiment": self.experiments.describe()}

    async def readyz(self) -> JSONResponse:
        ok, why = await self.pipeline.stages.ready()
        return JSONResponse({"ready": ok, "detail": why}, status_code=200 if ok else 503)


def ingress_class(api: FastAPI, ingress_decorator, batch: Callable | None = None) -> type:
    """Bind the routes to a class; `ingress_decorator` is serve.ingress(api) and `batch` the
    configured micro-batcher (app.py owns Ray)."""

    class Ingress(IngressCore):
        def __init__(self, intent, retriever, ranker, config: AppConfig, outcomes=None):
            from serving.experiments.sinks import HandleOutcomeSink

            from serving.sessions.engine import SessionEngine
            from serving.sessions.service import SessionService
            from serving.sessions.store import HandleSessionRepository

            stages = HandleStages(intent, retriever, ranker)
            sessions = (SessionService(SessionEngine(stages, config), HandleSessionRepository(outcomes), config.sessions)
                        if outcomes is not None else None)
            super().__init__(stages, config, HandleOutcomeSink(outcomes), batch=batch, sessions=sessions)

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

        @api.post("/v1/sessions", response_model=SessionResponse,
                  summary="Start a conversation: first prompt -> playlist (turn 0)")
        async def sessions_route(self, body: SessionRequest, request: Request) -> SessionResponse:
            return await self.create_session(body, request)

        @api.post("/v1/sessions/{session_id}/turns", response_model=SessionResponse,
                  summary="Refine: a message and/or liked/disliked track ids -> the next playlist")
        async def session_turn_route(self, session_id: str, body: TurnRequest, request: Request) -> SessionResponse:
            return await self.session_turn(session_id, body, request)

        @api.get("/v1/sessions/{session_id}", response_model=SessionHistory,
                 summary="A session's history: every turn's message, feedback, intent and tracks")
        async def session_history_route(self, session_id: str) -> SessionHistory:
            return await self.session_history(session_id)

        @api.get("/ui/config.json", include_in_schema=False)
        async def console_config_route(self) -> dict:
            return self.console_config()

        @api.get("/healthz", summary="Liveness: the ingress answers")
        async def healthz(self) -> dict:
            return {"status": "ok", "version": __version__}

        @api.get("/readyz", summary="Readiness: 200 only once the index is loaded")
        async def readyz_route(self) -> JSONResponse:
            return await self.readyz()

    return ingress_decorator(Ingress)
