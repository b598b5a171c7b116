"""Segue's Prometheus metrics, exported through Ray's metrics endpoint.

Every metric is declared once in METRICS (name, kind, labels, buckets),
documented in docs/observability.md, and queried by a dashboard panel or an alert
in observability/ (tests/unit/test_observability_files.py checks both ways). On the Prometheus endpoint Ray prefixes
each name with `ray_`, adds `_total` to counters, and adds the labels
`deployment`, `replica` and `application` to metrics recorded in a replica.

Label values are bounded: arms, experiments, reasons and events are squeezed
into a small alphabet and, per label, at most MAX_VALUES_PER_LABEL distinct
values per process; anything past that is reported as "other". User ids and
prompts never become labels.
"""

from __future__ import annotations

import abc
import logging
import re
import threading
from dataclasses import dataclass
from functools import lru_cache

log = logging.getLogger(__name__)

# Seconds. Spans the fast parser path (a few ms) up to an LLM deadline (seconds).
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0)
# Ray wants positive boundaries; the first bucket (<= 1) also holds the empty results.
CANDIDATE_BUCKETS = (1, 10, 25, 50, 100, 200, 400, 800, 1600, 5000)

MAX_VALUES_PER_LABEL = 32
_LABEL_VALUE = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,47}$")

STAGES = ("intent", "retrieval", "ranking")
ROUTES = ("playlist", "search")


@dataclass(frozen=True)
class MetricSpec:
    name: str
    kind: str  # counter | histogram
    description: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = ()


REQUESTS = MetricSpec(
    "segue_requests", "counter", "Playlist and search requests answered by the ingress, by HTTP status code.",
    ("route", "arm", "experiment", "code"),
)
REQUEST_DURATION = MetricSpec(
    "segue_request_duration_seconds", "histogram", "Ingress time per request, all stages included.",
    ("route", "arm", "experiment"), LATENCY_BUCKETS_S,
)
STAGE_REQUESTS = MetricSpec(
    "segue_stage_requests", "counter", "Calls of one pipeline stage (intent, retrieval, ranking) by outcome.",
    ("stage", "arm", "experiment", "outcome"),
)
STAGE_DURATION = MetricSpec(
    "segue_stage_duration_seconds", "histogram", "Time spent inside one pipeline stage's deployment.",
    ("stage", "arm", "experiment"), LATENCY_BUCKETS_S,
)
INTENT_REQUESTS = MetricSpec(
    "segue_intent_requests", "counter", "Intents served, by backend, prompt version and source (llm or fallback_*).",
    ("backend", "prompt_version", "source"),
)
INTENT_FALLBACKS = MetricSpec(
    "segue_intent_fallbacks", "counter", "Intents answered by the fast parser because the LLM backend failed.",
    ("reason", "backend", "prompt_version", "arm", "experiment"),
)
STRUCTURED_OUTPUT_FAILURES = MetricSpec(
    "segue_intent_structured_output_failures", "counter",
    "LLM outputs that did not validate as an Intent (schema-constrained decoding failed).",
    ("backend", "arm", "experiment"),
)
CANDIDATES = MetricSpec(
    "segue_candidates_retrieved", "histogram", "Candidates the retriever handed to the ranker per request.",
    ("arm", "experiment"), CANDIDATE_BUCKETS,
)
FEEDBACK = MetricSpec(
    "segue_feedback_events", "counter", "Listener feedback events (outcomes) per experiment arm, counted once.",
    ("experiment", "arm", "event"),
)
EXPERIMENT_EVENTS = MetricSpec(
    "segue_experiment_events", "counter",
    "Experiment assignment events per arm: exposure, override, error, shadow, shadow_error, shadow_dropped.",
    ("experiment", "arm", "event"),
)

STORE_WRITES = MetricSpec(
    "segue_store_writes", "counter",
    "Writes to the experiment/session store by kind (served, feedback, failed, shadow, sweep, ...) and outcome "
    "(committed; dropped = the database was down past the retry budget or the queue was full).",
    ("kind", "outcome"),
)
STORE_COMMIT_DURATION = MetricSpec(
    "segue_store_commit_duration_seconds", "histogram", "Time of one batched store transaction (group commit).",
    ("backend",), LATENCY_BUCKETS_S,
)

STAGE_BATCH_SIZE = MetricSpec(
    "segue_stage_batch_size", "histogram", "Requests per call of a pipeline stage (the Ingress batches them).",
    ("stage",), (1, 2, 4, 8, 16, 32, 64, 128),
)

EDGE_SHED = MetricSpec(
    "segue_edge_shed", "counter", "Requests refused with 503 + Retry-After by the proxy's own in-flight bound, "
    "before they reached an Ingress replica.", ("route",),
)

METRICS: tuple[MetricSpec, ...] = (
    REQUESTS, REQUEST_DURATION, STAGE_REQUESTS, STAGE_DURATION, INTENT_REQUESTS, INTENT_FALLBACKS,
    STRUCTURED_OUTPUT_FAILURES, CANDIDATES, FEEDBACK, EXPERIMENT_EVENTS, STORE_WRITES, STORE_COMMIT_DURATION,
    STAGE_BATCH_SIZE, EDGE_SHED,
)


def exported_name(spec: MetricSpec) -> str:
    """The series name Prometheus sees (Ray adds the `ray_` prefix and counters' `_total`)."""
    return f"ray_{spec.name}_total" if spec.kind == "counter" else f"ray_{spec.name}"


class LabelGuard:
    """Keeps label values few and harmless: normalises them and caps distinct values per label."""

    def __init__(self, max_values: int = MAX_VALUES_PER_LABEL):
        self._max = max_values
        self._seen: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def value(self, label: str, raw: object) -> str:
        if raw is None or raw == "":
            return "none"
        v = str(raw).strip().lower()
        if not _LABEL_VALUE.match(v):
            return "other"
        with self._lock:
            seen = self._seen.setdefault(label, set())
            if v in seen:
                return v
            if len(seen) >= self._max:
                return "other"
            seen.add(v)
            return v

    def tags(self, spec: MetricSpec, values: dict[str, object]) -> dict[str, str]:
        missing = set(spec.labels) - set(values)
        if missing:
            raise ValueError(f"metric {spec.name} needs labels {sorted(missing)}")
        return {k: self.value(k, values[k]) for k in spec.labels}


class MetricsBackend(abc.ABC):
    """Where recorded values go: Ray's metrics in a Serve process, nothing elsewhere, a list in tests."""

    @abc.abstractmethod
    def inc(self, spec: MetricSpec, tags: dict[str, str], value: float = 1.0) -> None: ...

    @abc.abstractmethod
    def observe(self, spec: MetricSpec, tags: dict[str, str], value: float) -> None: ...


class NullBackend(MetricsBackend):
    """Outside Ray (offline eval, benchmarks, unit tests of other modules) metrics go nowhere."""

    def inc(self, spec, tags, value=1.0) -> None:
        return None

    def observe(self, spec, tags, value) -> None:
        return None


class RayBackend(MetricsBackend):
    """ray.serve.metrics objects, created once per process on first use."""

    def __init__(self):
        self._objects: dict[str, object] = {}
        self._lock = threading.Lock()

    def _get(self, spec: MetricSpec):
        obj = self._objects.get(spec.name)
        if obj is None:
            from ray.serve import metrics as serve_metrics

            with self._lock:
                obj = self._objects.get(spec.name)
                if obj is None:
                    if spec.kind == "counter":
                        obj = serve_metrics.Counter(spec.name, description=spec.description, tag_keys=spec.labels)
                    else:
                        obj = serve_metrics.Histogram(
                            spec.name, description=spec.description, boundaries=list(spec.buckets),
                            tag_keys=spec.labels,
                        )
                    self._objects[spec.name] = obj
        return obj

    def inc(self, spec, tags, value=1.0) -> None:
        self._get(spec).inc(value, tags=tags)

    def observe(self, spec, tags, value) -> None:
        self._get(spec).observe(value, tags=tags)


class SegueMetrics:
    """The recording API the deployments call; one per process (see default_metrics)."""

    def __init__(self, backend: MetricsBackend, guard: LabelGuard | None = None):
        self.backend = backend
        self.guard = guard or LabelGuard()
        self._failed: set[str] = set()

    def _inc(self, spec: MetricSpec, value: float = 1.0, **labels) -> None:
        tags = self.guard.tags(spec, labels)
        try:
            self.backend.inc(spec, tags, value)
        except Exception:
            self._report(spec)

    def _observe(self, spec: MetricSpec, value: float, **labels) -> None:
        tags = self.guard.tags(spec, labels)
        try:
            self.backend.observe(spec, tags, value)
        except Exception:
            self._report(spec)

    def _report(self, spec: MetricSpec) -> None:
        # A broken metric must not fail the playlist it measures: log it (once per metric) and go on.
        if spec.name not in self._failed:
            self._failed.add(spec.name)
            log.exception("recording metric %s failed; further failures of it are not logged", spec.name)

    def request(self, route: str, arm: str, experiment: str | None, code: int, seconds: float) -> None:
        self._inc(REQUESTS, route=route, arm=arm, experiment=experiment, code=str(code))
        self._observe(REQUEST_DURATION, seconds, route=route, arm=arm, experiment=experiment)

    def stage(self, stage: str, arm: str, experiment: str | None, outcome: str, seconds: float) -> None:
        self._inc(STAGE_REQUESTS, stage=stage, arm=arm, experiment=experiment, outcome=outcome)
        self._observe(STAGE_DURATION, seconds, stage=stage, arm=arm, experiment=experiment)

    def intent(self, backend: str, prompt_version: str | None, source: str) -> None:
        self._inc(INTENT_REQUESTS, backend=backend, prompt_version=prompt_version, source=source)

    def intent_fallback(self, reason: str, backend: str, arm: str, experiment: str | None,
                        prompt_version: str | None = None) -> None:
        self._inc(INTENT_FALLBACKS, reason=reason, backend=backend, prompt_version=prompt_version, arm=arm,
                  experiment=experiment)
        if reason == "invalid_output":
            self._inc(STRUCTURED_OUTPUT_FAILURES, backend=backend, arm=arm, experiment=experiment)

    def candidates(self, n: int, arm: str, experiment: str | None) -> None:
        self._observe(CANDIDATES, float(n), arm=arm, experiment=experiment)

    def batch(self, stage: str, n: int) -> None:
        self._observe(STAGE_BATCH_SIZE, float(n), stage=stage)

    def edge_shed(self, route: str) -> None:
        self._inc(EDGE_SHED, route=route)

    def feedback(self, experiment: str | None, arm: str, event: str) -> None:
        self._inc(FEEDBACK, experiment=experiment, arm=arm, event=event)

    def experiment_event(self, experiment: str | None, arm: str, event: str) -> None:
        self._inc(EXPERIMENT_EVENTS, experiment=experiment, arm=arm, event=event)

    def store_write(self, kind: str, outcome: str, n: int = 1) -> None:
        self._inc(STORE_WRITES, float(n), kind=kind, outcome=outcome)

    def store_commit(self, backend: str, kinds: dict[str, int], seconds: float) -> None:
        for kind, n in kinds.items():
            self.store_write(kind, "committed", n)
        self._observe(STORE_COMMIT_DURATION, seconds, backend=backend)


@lru_cache(maxsize=1)
def default_metrics() -> SegueMetrics:
    """The process's recorder. A process-wide object because Ray metrics are
    process-wide registrations; chosen at first use: Ray's backend when this
    process is connected to Ray, nothing otherwise."""
    try:
        import ray

        connected = ray.is_initialized()
    except ImportError:
        connected = False
    return SegueMetrics(RayBackend() if connected else NullBackend())



@dataclass
class BatchStats:
    """Calls and requests seen by one stage replica (benchmarks read the average batch size)."""

    calls: int = 0
    items: int = 0

    def record(self, stage: str, n: int) -> None:
        self.calls += 1
        self.items += n
        default_metrics().batch(stage, n)

    def snapshot(self) -> dict[str, int]:
        return {"calls": self.calls, "items": self.items}
