"""Segue's spans and metrics scopes, recorded by the real OpenTelemetry SDK into memory."""

import asyncio

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from serving import telemetry
from serving.config import AppConfig, ConfigError
from serving.errors import NotReady
from serving.intent.backend import IntentBackend, IntentOutputError
from serving.intent.fallback import FastParser
from serving.intent.model import Intent
from serving.intent.service import IntentService
from serving.metrics import MetricsBackend, SegueMetrics
from serving.schemas import RequestContext
from serving.telemetry_config import TelemetryConfig, tracing_env

pytestmark = pytest.mark.unit


class ListBackend(MetricsBackend):
    """Test double: keeps every recorded value."""

    def __init__(self):
        self.records = []

    def inc(self, spec, tags, value=1.0):
        self.records.append(("inc", spec.name, tags, value))

    def observe(self, spec, tags, value):
        self.records.append(("observe", spec.name, tags, value))

    def named(self, name):
        return [r for r in self.records if r[1] == name]


@pytest.fixture(scope="module")
def exporter():
    # The global provider can be set once per process: reuse an SDK provider if one is there.
    exp = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exp))
    return exp


@pytest.fixture
def spans(exporter):
    exporter.clear()
    return exporter


@pytest.fixture
def metrics():
    return SegueMetrics(ListBackend())


CTX = RequestContext(request_id="r1", user_key="u1", arm="canary", experiment_id="exp-1")


def by_name(exporter):
    return {s.name: s for s in exporter.get_finished_spans()}


def test_tracing_env_turns_config_into_ray_variables():
    assert tracing_env(TelemetryConfig()) == {"RAY_SERVE_TRACING_EXPORTER_IMPORT_PATH": ""}
    env = tracing_env(TelemetryConfig(enabled=True, sampling_ratio=0.5, otlp_endpoint="http://otel:4318/",
                                      service_name="segue-canary", console=True))
    assert env == {
        "RAY_SERVE_TRACING_EXPORTER_IMPORT_PATH": "serving.telemetry:span_processors",
        "RAY_SERVE_TRACING_SAMPLING_RATIO": "0.5",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318",
        "OTEL_SERVICE_NAME": "segue-canary",
        "SEGUE_TRACING_CONSOLE": "1",
    }
    # No endpoint in config: the environment's OTEL_EXPORTER_OTLP_ENDPOINT (e.g. from Helm) stays in charge.
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in tracing_env(TelemetryConfig(enabled=True))


def test_telemetry_section_is_validated_with_clear_messages():
    cfg = AppConfig.from_dict({"telemetry": {"enabled": True, "otlp_endpoint": "http://127.0.0.1:4318"}})
    assert cfg.telemetry.enabled and cfg.telemetry.otlp_endpoint == "http://127.0.0.1:4318"
    with pytest.raises(ConfigError, match="telemetry.otlp_endpoint.*http"):
        AppConfig.from_dict({"telemetry": {"otlp_endpoint": "otel:4318"}})
    with pytest.raises(ConfigError, match="telemetry.sampling_ratio"):
        AppConfig.from_dict({"telemetry": {"sampling_ratio": 2}})
    with pytest.raises(ConfigError, match="telemetry.sampler: unknown key"):
        AppConfig.from_dict({"telemetry": {"sampler": "always"}})


def test_span_processors_follow_the_environment(monkeypatch):
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    monkeypatch.setenv("SEGUE_TRACING_CONSOLE", "0")
    assert telemetry.span_processors() == []
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setenv("SEGUE_TRACING_CONSOLE", "1")
    procs = telemetry.span_processors()
    assert [type(p) for p in procs] == [BatchSpanProcessor, SimpleSpanProcessor]
    for p in procs:
        p.shutdown()


def test_stage_span_carries_arm_versions_and_counts(spans, metrics):
    with telemetry.stage("retrieval", CTX, metrics, k=200) as scope:
        scope.versions({"embedder": "minilm-abc", "index": "flat-123", "catalog": "cpcd-9"})
        scope.candidates(180)
    s = by_name(spans)["segue.retrieval"]
    assert s.attributes["segue.arm"] == "canary"
    assert s.attributes["segue.experiment_id"] == "exp-1"
    assert s.attributes["segue.request_id"] == "r1"
    assert s.attributes["segue.k"] == 200 and s.attributes["segue.candidates"] == 180
    assert s.attributes["segue.version.embedder"] == "minilm-abc"
    assert s.attributes["segue.version.index"] == "flat-123"
    assert s.status.status_code == StatusCode.UNSET
    rec = metrics.backend
    assert rec.named("segue_stage_requests") == [
        ("inc", "segue_stage_requests", {"stage": "retrieval", "arm": "canary", "experiment": "exp-1", "outcome": "ok"}, 1.0)]
    assert rec.named("segue_candidates_retrieved")[0][2:] == ({"arm": "canary", "experiment": "exp-1"}, 180.0)
    assert rec.named("segue_stage_duration_seconds")[0][3] >= 0


def test_exceptions_are_recorded_with_error_status(spans, metrics):
    with pytest.raises(NotReady):
        with telemetry.stage("retrieval", CTX, metrics):
            raise NotReady("index loading; retry shortly", retry_after_s=5)
    s = by_name(spans)["segue.retrieval"]
    assert s.status.status_code == StatusCode.ERROR
    assert "NotReady" in s.status.description
    assert s.attributes["error.type"] == "not_ready"
    assert [e.name for e in s.events] == ["exception"]
    assert metrics.backend.named("segue_stage_requests")[0][2]["outcome"] == "error"


@pytest.mark.parametrize("exc,code", [(None, 200), (NotReady("loading"), 503), (RuntimeError("boom"), 500)])
def test_request_scope_counts_the_http_status_per_arm(spans, metrics, exc, code):
    try:
        with telemetry.request("playlist", CTX, {}, metrics) as scope:
            scope.versions({"ranker": "baseline-v1", "intent_backend": "fallback"})
            sc = scope.span.get_span_context()
            # The context handed down the pipeline names this trace and this span.
            assert scope.ctx.trace_id == f"{sc.trace_id:032x}"
            assert scope.ctx.trace_headers["traceparent"].split("-")[2] == f"{sc.span_id:016x}"
            assert (scope.ctx.arm, scope.ctx.request_id) == (CTX.arm, CTX.request_id)
            if exc:
                raise exc
    except Exception as e:
        assert e is exc
    s = by_name(spans)["segue.ingress"]
    assert s.attributes["http.response.status_code"] == code
    assert s.attributes["segue.route"] == "playlist"
    assert s.attributes["segue.version.ranker"] == "baseline-v1"
    tags = metrics.backend.named("segue_requests")[0][2]
    assert tags == {"route": "playlist", "arm": "canary", "experiment": "exp-1", "code": str(code)}


class SlowBackend(IntentBackend):
    name = "slow-llm"

    async def generate(self, prompt: str) -> Intent:
        await asyncio.sleep(5)
        raise AssertionError("the deadline should have fired first")


class GarbageBackend(IntentBackend):
    name = "garbage-llm"

    async def generate(self, prompt: str) -> Intent:
        raise IntentOutputError("expected JSON object, got '{\"genres\": ['")

    @property
    def versions(self):
        return {"intent_backend": self.name, "intent_model": "tiny-random", "intent_prompt": "intent-v2"}


@pytest.mark.parametrize("backend,reason", [(SlowBackend(), "timeout"), (GarbageBackend(), "invalid_output")])
def test_intent_fallback_has_its_own_span_and_metrics(spans, metrics, backend, reason):
    service = IntentService(backend, FastParser(), deadline_s=0.05)

    async def run():
        with telemetry.stage("intent", CTX, metrics) as scope:
            result = await service.parse("rainy sunday jazz, nothing too upbeat")
            scope.intent(result)
        return result

    result = asyncio.run(run())
    assert result.fallback_reason == reason
    got = by_name(spans)
    intent, fallback = got["segue.intent"], got["segue.intent.fallback"]
    assert fallback.parent.span_id == intent.context.span_id
    assert fallback.attributes["segue.fallback_reason"] == reason
    assert intent.attributes["segue.fallback_reason"] == reason
    assert intent.attributes["segue.version.intent_backend"] == backend.name
    falls = metrics.backend.named("segue_intent_fallbacks")
    prompt = backend.versions.get("intent_prompt", "none")
    assert falls[0][2] == {"reason": reason, "backend": backend.name, "prompt_version": prompt, "arm": "canary",
                           "experiment": "exp-1"}
    served = metrics.backend.named("segue_intent_requests")
    assert served[0][2] == {"backend": backend.name, "prompt_version": prompt, "source": result.intent.source.value}
    structured = metrics.backend.named("segue_intent_structured_output_failures")
    assert len(structured) == (1 if reason == "invalid_output" else 0)
    if reason == "invalid_output":
        assert intent.attributes["segue.version.intent_model"] == "tiny-random"
        assert intent.attributes["segue.version.intent_prompt"] == "intent-v2"


def test_trace_id_comes_from_the_current_span_or_the_client(spans):
    client = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    # No span here (an unsampled request): the client's trace id is kept for correlation.
    assert telemetry.trace_fields(client) == {"trace_id": "0af7651916cd43dd8448eb211c80319c", "trace_headers": {}}
    assert telemetry.response_headers(client) == {"X-Trace-ID": "0af7651916cd43dd8448eb211c80319c"}
    assert telemetry.trace_fields({"traceparent": "garbage"})["trace_id"] is None
    assert telemetry.response_headers({}) == {}
    with telemetry.span("segue.ingress") as scope:
        sc = scope.span.get_span_context()
        fields = telemetry.trace_fields({})
        headers = telemetry.response_headers({})
    assert fields["trace_id"] == f"{sc.trace_id:032x}"
    assert fields["trace_headers"]["traceparent"] == f"00-{sc.trace_id:032x}-{sc.span_id:016x}-{int(sc.trace_flags):02x}"
    assert headers["X-Trace-ID"] == fields["trace_id"]
    assert headers["traceresponse"] == fields["trace_headers"]["traceparent"]
