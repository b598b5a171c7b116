"""Timeouts and limits of the HTTP edge (a leaf: pydantic and serving.frozen only). Part of AppConfig.http;
the Helm chart's `http.timeouts` / `http.limits` mirror it."""

from __future__ import annotations

from pydantic import Field

from serving.frozen import Frozen as _Frozen


class EdgeTimeouts(_Frozen):
    header_s: float = Field(default=10.0, gt=0, le=300,
                            description="From connection open (or the first byte of a next request) to the last "
                            "header byte; slower clients get 408 and are closed (slowloris).")
    body_s: float = Field(default=10.0, gt=0, le=300,
                          description="From the end of the headers to the last body byte; slower bodies get 408.")
    keep_alive_s: int = Field(default=5, ge=1, le=600,
                              description="An idle keep-alive connection is closed after this long (Serve's "
                              "keep_alive_timeout_s).")
    request_s: float = Field(default=60.0, gt=0, le=3600,
                             description="Whole request, headers to last response byte (Serve's request_timeout_s); "
                             "clients cannot lift it (x-request-timeout-seconds is dropped at the edge).")


class EdgeLimits(_Frozen):
    max_header_bytes: int = Field(default=16_384, ge=1024, le=1_048_576,
                                  description="Request line + all headers, in bytes; past it 431 (or 414 for the URL).")
    max_headers: int = Field(default=100, ge=8, le=1000, description="Number of request headers; past it 431.")
    max_url_bytes: int = Field(default=4096, ge=256, le=65_536, description="Path + query, in bytes; past it 414.")


class EdgeShedding(_Frozen):
    """The proxy's own in-flight bound on the costly routes (serving/edge/shed.py). Not set by
    hand: AppConfig.edge_settings derives it from `admission` and the Ingress's slots."""

    enabled: bool = True
    max_in_flight: int = Field(default=48, ge=1)
    min_in_flight: int = Field(default=4, ge=1)
    target_latency_s: float = Field(default=0.0, ge=0)
    retry_after_s: int = Field(default=1, ge=1)
    paths: tuple[str, ...] = ("/v1/playlists", "/v1/search")


class EdgeSettings(_Frozen):
    """What the proxy-process guard needs, handed to it through the environment."""

    timeouts: EdgeTimeouts = Field(default_factory=EdgeTimeouts)
    limits: EdgeLimits = Field(default_factory=EdgeLimits)
    max_body_bytes: int = Field(default=16_384, ge=1024)
    shedding: EdgeShedding = Field(default_factory=EdgeShedding)
