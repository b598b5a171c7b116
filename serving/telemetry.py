"""OpenTelemetry for Segue: the exporter factory Ray Serve loads, trace ids for
responses, and one span + metrics scope per pipeline stage.

Ray Serve owns the tracer provider: with RAY_SERVE_TRACING_EXPORTER_IMPORT_PATH
set to `serving.telemetry:span_processors` every Serve process (proxy and
replicas) installs a provider with our span processors and opens spans for the
proxy hop, each handle call and each replica call. Segue's spans are children
of whatever span is current, which in a replica is Ray's request span (the
same context `serve.get_trace_context()` returns). Without tracing the
OpenTelemetry API is a no-op and the scopes below only record metrics.

The deployments change by a line or two: `with telemetry.stage("retrieval", ctx) as st:`.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import os
import re
import time
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, Span, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from serving.metrics import SegueMetrics, default_metrics
from serving.schemas import RequestContext
from serving.telemetry_config import ENV_CONSOLE, ENV_OTLP_ENDPOINT

log = logging.getLogger(__name__)

TRACER_NAME = "segue"
TRACE_ID_HEADER = "X-Trace-ID"
# W3C Trace Context level 2 name for the server's trace context in a response.
TRACE_RESPONSE_HEADER = "traceresponse"
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def span_processors() -> list:
    """Ray Serve's exporter factory: called once per Serve process at start-up.

    OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT (the exporter reads its own
    OTEL_EXPORTER_OTLP_* settings: headers, timeout, compression) through a
    batching processor; the console exporter when SEGUE_TRACING_CONSOLE=1.
    """
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

    processors: list = []
    if os.environ.get(ENV_OTLP_ENDPOINT) or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        processors.append(BatchSpanProcessor(OTLPSpanExporter()))
    if os.environ.get(ENV_CONSOLE) == "1":
        processors.append(SimpleSpanProcessor(ConsoleSpanExporter()))
    if not processors:
        log.warning(
            "tracing is on but spans go nowhere: set telemetry.otlp_endpoint (OTEL_EXPORTER_OTLP_ENDPOINT) "
            "or telemetry.console; trace ids are still returned to clients"
        )
    return processors


def fastapi_options() -> dict[str, Any]:
    """FastAPI(...) keyword arguments. FastAPI's own spans parent on the raw HTTP
    headers rather than on Ray's replica span, which would split a request into
    two traces when the client sends no `traceparent`: Segue's ingress span
    replaces them."""
    from fastapi import FastAPI

    if "telemetry" in inspect.signature(FastAPI.__init__).parameters:
        return {"telemetry": {"tracing": False}}
    return {}


# --- trace ids for clients -------------------------------------------------------------------


def _client_trace_id(headers: Mapping[str, str]) -> str | None:
    m = _TRACEPARENT.match(headers.get("traceparent", "").strip().lower())
    if m and m.group(1) != "0" * 32:
        return m.group(1)
    return None


def current_span_context():
    sc = trace.get_current_span().get_span_context()
    return sc if sc.is_valid else None


def trace_fields(headers: Mapping[str, str]) -> dict[str, Any]:
    """`trace_id` and `trace_headers` for a RequestContext, from the current span.

    An unsampled request has no span; it keeps the client's trace id (if it
    sent a `traceparent`) so logs and responses still correlate with the caller.
    """
    sc = current_span_context()
    if sc is None:
        return {"trace_id": _client_trace_id(headers), "trace_headers": {}}
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return {"trace_id": format(sc.trace_id, "032x"), "trace_headers": carrier}


def response_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """X-Trace-ID (and `traceresponse` when this server traced the request)."""
    sc = current_span_context()
    if sc is not None:
        return {
            TRACE_ID_HEADER: format(sc.trace_id, "032x"),
            TRACE_RESPONSE_HEADER: f"00-{sc.trace_id:032x}-{sc.span_id:016x}-{int(sc.trace_flags):02x}",
        }
    client = _client_trace_id(headers)
    return {TRACE_ID_HEADER: client} if client else {}


class TraceHeaders:
    """Pure ASGI middleware: adds X-Trace-ID / traceresponse to every HTTP response.

    Runs inside Ray's replica span, so the ids are those of the request's trace."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())
                           if k == b"traceparent"}
        extra = [(k.lower().encode(), v.encode()) for k, v in response_headers(request_headers).items()]

        async def send_with_trace(message):
            if extra and message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_trace)


# --- attributes ----------------------------------------------------------------------------------


def request_attributes(ctx: RequestContext) -> dict[str, Any]:
    attrs = {"segue.request_id": ctx.request_id, "segue.arm": ctx.arm}
    if ctx.experiment_id:
        attrs["segue.experiment_id"] = ctx.experiment_id
    if getattr(ctx, "session_id", None):
        attrs["segue.session_id"] = ctx.session_id
        attrs["segue.turn"] = ctx.turn
    return attrs


def version_attributes(versions: Mapping[str, str]) -> dict[str, str]:
    """Every component version as `segue.version.<component>` (intent_backend,
    intent_model, intent_prompt, embedder, index, catalog, ranker, ...)."""
    return {f"segue.version.{k}": str(v) for k, v in versions.items() if v is not None}


def error_type(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) else type(exc).__name__


def mark_error(span: Span, exc: BaseException) -> None:
    span.record_exception(exc)
    span.set_attribute("error.type", error_type(exc))
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:500]))


class Scope:
    """A span being recorded for one stage; `set` adds `segue.`-prefixed attributes."""

    def __init__(self, span: Span, ctx: RequestContext | None = None, metrics: SegueMetrics | None = None):
        self.span = span
        self.ctx = ctx
        self.metrics = metrics

    def set(self, **attrs: Any) -> None:
        self.span.set_attributes({f"segue.{k}": v for k, v in attrs.items() if v is not None})

    def versions(self, versions: Mapping[str, str]) -> None:
        self.span.set_attributes(version_attributes(versions))

    def candidates(self, n: int) -> None:
        """Candidates retrieved: a span attribute and the per-arm histogram."""
        self.set(candidates=n)
        if self.ctx is not None and self.metrics is not None:
            self.metrics.candidates(n, self.ctx.arm, self.ctx.experiment_id)

    def intent(self, result) -> None:
        """An IntentResult: versions, source, fallback reason (span); intents by backend, prompt and
        source, and fallbacks per arm (metrics)."""
        source = getattr(result.intent.source, "value", str(result.intent.source))
        self.versions(result.versions)
        self.set(intent_source=source, fallback_reason=result.fallback_reason)
        if self.ctx is not None and self.metrics is not None:
            backend = result.versions.get("intent_backend", "unknown")
            prompt = result.versions.get("intent_prompt")
            self.metrics.intent(backend, prompt, source)
            if result.fallback_reason:
                self.metrics.intent_fallback(result.fallback_reason, backend, self.ctx.arm, self.ctx.experiment_id,
                                             prompt_version=prompt)


def _parent(ctx: RequestContext | None):
    """(parent context, links) of a span for `ctx`. Normally the current span. In a batch,
    one stage call serves many requests but sits in the trace of the batch's first one: the
    others' spans parent to their own request's span and link to the batch call's."""
    if ctx is None or not ctx.trace_headers or not ctx.trace_id:
        return None, ()
    cur = current_span_context()
    if cur is not None and format(cur.trace_id, "032x") == ctx.trace_id:
        return None, ()
    return TraceContextTextMapPropagator().extract(ctx.trace_headers), ((Link(cur),) if cur is not None else ())


@contextmanager
def attached(ctx: RequestContext | None) -> Iterator[None]:
    """Run the block in `ctx`'s trace (its W3C headers): a batch's stage calls are made in the
    trace of its first request, not in whatever context the batch task was started from."""
    if ctx is None or not ctx.trace_headers:
        yield
        return
    token = otel_context.attach(TraceContextTextMapPropagator().extract(ctx.trace_headers))
    try:
        yield
    finally:
        otel_context.detach(token)


@contextmanager
def span(name: str, ctx: RequestContext | None = None, metrics: SegueMetrics | None = None, **attrs: Any
         ) -> Iterator[Scope]:
    """A child span of the current one (see _parent for batches), exceptions recorded with ERROR status."""
    tracer = trace.get_tracer(TRACER_NAME)
    parent, links = _parent(ctx)
    with tracer.start_as_current_span(name, context=parent, links=links, record_exception=False,
                                      set_status_on_exception=False) as sp:
        scope = Scope(sp, ctx, metrics)
        if ctx is not None:
            sp.set_attributes(request_attributes(ctx))
        scope.set(**attrs)
        try:
            yield scope
        except BaseException as e:
            mark_error(sp, e)
            raise


@contextmanager
def stage(name: str, ctx: RequestContext, metrics: SegueMetrics | None = None, **attrs: Any) -> Iterator[Scope]:
    """Span `segue.<name>` plus the per-stage, per-arm count and latency metrics."""
    m = metrics or default_metrics()
    t0 = time.perf_counter()
    outcome = "error"
    try:
        with span(f"segue.{name}", ctx, m, **attrs) as scope:
            yield scope
            outcome = "ok"
    finally:
        m.stage(name, ctx.arm, ctx.experiment_id, outcome, time.perf_counter() - t0)


def _status_of(exc: BaseException) -> int:
    from serving.errors import SegueError, status_for
    from serving.http_errors import map_platform_error

    if isinstance(exc, SegueError):
        return status_for(exc)
    mapped = map_platform_error(exc) if isinstance(exc, Exception) else None
    return status_for(mapped) if mapped is not None else 500


@contextmanager
def request(route: str, ctx: RequestContext, headers: Mapping[str, str] | None = None,
            metrics: SegueMetrics | None = None) -> Iterator[Scope]:
    """The ingress's span `segue.ingress` and the per-arm request count/latency,
    with the HTTP status the error table will give a raised exception.

    `scope.ctx` is `ctx` with the trace id and W3C headers of this span filled in:
    pass it down the pipeline (whoever built `ctx`, e.g. the experiment assignment)."""
    m = metrics or default_metrics()
    t0 = time.perf_counter()
    code = 500
    try:
        with span("segue.ingress", ctx, m, route=route) as scope:
            scope.ctx = dataclasses.replace(ctx, **trace_fields(headers or {}))
            try:
                yield scope
                code = 200
            except BaseException as e:
                code = _status_of(e)
                raise
            finally:
                scope.span.set_attribute("http.response.status_code", code)
    finally:
        m.request(route, ctx.arm, ctx.experiment_id, code, time.perf_counter() - t0)
