"""The `telemetry:` section of AppConfig and the environment it becomes for Ray.

Ray Serve sets up tracing in every process it starts (proxy, controller,
replicas) from environment variables read once at import time, so the config
is turned into environment variables *before* Ray starts: by serving/server.py
locally, by the Helm chart's pod env in Kubernetes (same names, see
docs/observability.md). Kept free of OpenTelemetry imports so config parsing
stays cheap.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

# The exporter factory Ray Serve imports in every process (module:function, no arguments).
EXPORTER_IMPORT_PATH = "serving.telemetry:span_processors"

ENV_EXPORTER = "RAY_SERVE_TRACING_EXPORTER_IMPORT_PATH"
ENV_SAMPLING = "RAY_SERVE_TRACING_SAMPLING_RATIO"
ENV_OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
ENV_SERVICE_NAME = "OTEL_SERVICE_NAME"
ENV_CONSOLE = "SEGUE_TRACING_CONSOLE"

_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")


class TelemetryConfig(BaseModel):
    """Tracing switches. Metrics need no switch: they are always on Ray's Prometheus endpoint."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=False, description="Trace requests with OpenTelemetry through Ray Serve's tracing.")
    sampling_ratio: float = Field(
        default=1.0, ge=0.0, le=1.0,
        description="Head sampling for requests without a sampled `traceparent`. Keep 1.0 and let the "
        "collector's tail sampling drop traces: below 1.0 Ray re-samples at every hop of an unsampled request.",
    )
    otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP base URL of the collector, e.g. http://otel-collector:4318 (spans go to /v1/traces). "
        "None keeps OTEL_EXPORTER_OTLP_ENDPOINT from the environment, if any.",
    )
    service_name: str = Field(default="segue", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
    console: bool = Field(default=False, description="Also print spans to each process's stdout (debugging only).")
    metrics_export_port: int | None = Field(
        default=None, ge=1, le=65535,
        description="Port of Ray's Prometheus endpoint for a locally started Ray (None: a free port, printed at "
        "start-up). KubeRay pods use 8080.",
    )

    trace_ui_url: str | None = Field(
        default=None,
        description="Link template of a trace UI for the console, '{trace_id}' replaced, e.g. "
        "http://jaeger:16686/trace/{trace_id} or a Grafana Tempo explore URL. None: trace ids are shown unlinked.",
    )

    @field_validator("trace_ui_url")
    @classmethod
    def _trace_ui(cls, v: str | None) -> str | None:
        if v is not None and (not _URL.match(v) or "{trace_id}" not in v):
            raise ValueError(f"trace_ui_url '{v}' must be an http(s) URL containing {{trace_id}}, "
                             "e.g. http://jaeger:16686/trace/{trace_id}")
        return v

    @field_validator("otlp_endpoint")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not _URL.match(v):
            raise ValueError(f"otlp_endpoint '{v}' must be an http(s) URL such as http://otel-collector:4318")
        return v.rstrip("/") if v else v


def tracing_env(config: TelemetryConfig) -> dict[str, str]:
    """The environment variables that make Ray Serve trace as `config` says.

    Apply them to the environment of the process that starts Ray (before
    ray.init) or of the Ray pods. Disabled tracing sets an empty exporter path,
    which is how Ray Serve spells "off".
    """
    if not config.enabled:
        return {ENV_EXPORTER: ""}
    env = {
        ENV_EXPORTER: EXPORTER_IMPORT_PATH,
        ENV_SAMPLING: repr(float(config.sampling_ratio)),
        ENV_SERVICE_NAME: config.service_name,
        ENV_CONSOLE: "1" if config.console else "0",
    }
    if config.otlp_endpoint:
        env[ENV_OTLP_ENDPOINT] = config.otlp_endpoint
    return env
