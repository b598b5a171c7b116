"""One typed AppConfig, parsed once at start-up and frozen afterwards.

The Helm chart's values mirror this model; `serving/configs/*.yaml` are examples.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from serving.edge.config import EdgeLimits, EdgeSettings, EdgeShedding, EdgeTimeouts
from serving.experiments.config import ExperimentConfig
from serving.frozen import Frozen
from serving.intent.llm_config import OpenAIConfig, VLLMConfig
from serving.store.config import StoreConfig
from serving.telemetry_config import TelemetryConfig


class ConfigError(ValueError):
    """A config file or value is wrong; the message names the key and the fix."""


class AutoscalingConfig(Frozen):
    min_replicas: int = Field(default=1, ge=0)
    max_replicas: int = Field(default=1, ge=1)
    target_ongoing_requests: float = Field(default=2.0, gt=0)
    upscale_delay_s: float = Field(default=30.0, ge=0)
    downscale_delay_s: float = Field(default=600.0, ge=0)
    look_back_period_s: float = Field(default=30.0, gt=0)
    metrics_interval_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _bounds(self) -> "AutoscalingConfig":
        if self.max_replicas < self.min_replicas:
            raise ValueError(f"max_replicas ({self.max_replicas}) must be >= min_replicas ({self.min_replicas})")
        return self


class ActorResources(Frozen):
    num_cpus: float = Field(default=0.5, ge=0)
    num_gpus: float = Field(default=0.0, ge=0)
    memory_mb: int | None = Field(default=None, ge=64, description="Ray memory reservation per replica.")


class ServeLoggingConfig(Frozen):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    access_log: bool = Field(default=True, description="Serve's per-request access log lines (cost CPU on every hop).")


class DeploymentConfig(Frozen):
    """Serve options of one deployment; rendered into serve.deployment(...) options."""

    autoscaling: AutoscalingConfig = Field(default_factory=AutoscalingConfig)
    resources: ActorResources = Field(default_factory=ActorResources)
    max_ongoing_requests: int = Field(default=16, ge=1)
    max_queued_requests: int = Field(default=64, ge=-1, description="-1 = unbounded (not recommended).")
    graceful_shutdown_timeout_s: float = Field(default=10.0, ge=0)
    health_check_period_s: float = Field(
        default=2.0, gt=0, description="How often Serve checks each replica. A killed replica is noticed (and its "
        "replacement started) only at the next check: Serve's default of 10 s was most of a recovery here.")

    def serve_options(self, logging: ServeLoggingConfig | None = None) -> dict[str, Any]:
        res: dict[str, Any] = {"num_cpus": self.resources.num_cpus}
        if self.resources.num_gpus:
            res["num_gpus"] = self.resources.num_gpus
        if self.resources.memory_mb:
            res["memory"] = self.resources.memory_mb * 1024 * 1024
        opts: dict[str, Any] = {
            "autoscaling_config": self.autoscaling.model_dump(),
            "ray_actor_options": res,
            "max_ongoing_requests": self.max_ongoing_requests,
            "max_queued_requests": self.max_queued_requests,
            "graceful_shutdown_timeout_s": self.graceful_shutdown_timeout_s,
            "health_check_period_s": self.health_check_period_s,
        }
        if logging is not None:
            opts["logging_config"] = {"log_level": logging.level, "enable_access_log": logging.access_log}
        return opts


class DeploymentsConfig(Frozen):
    # The Ingress holds every admitted request while its batch runs: room for admission.max_in_flight.
    ingress: DeploymentConfig = Field(default_factory=lambda: DeploymentConfig(max_ongoing_requests=64))
    intent: DeploymentConfig = Field(default_factory=DeploymentConfig)
    retriever: DeploymentConfig = Field(default_factory=DeploymentConfig)
    ranker: DeploymentConfig = Field(default_factory=DeploymentConfig)


class CatalogConfig(Frozen):
    path: str | None = Field(default=None, description="JSONL or Parquet catalog; None = the shipped CPCD catalog.")
    enrichment: bool = Field(default=True, description="Genre/era/language attributes from the enrichment artifact "
                             "as retrieval filters and 'like X' neighbours (built at first start if not shipped).")
    enrichment_dialogs: str | None = Field(
        default=None, description="CPCD-format curation dialogs (JSONL, optionally .gz) the enrichment learns from; "
        "None = the training-dialog evidence shipped in the package.")
    enrichment_llm_labels: str | None = Field(
        default=None, description="Artist labels made by `segue label-artists` (an LLM's genre families and decade "
        "per artist), added to the enrichment's evidence; None = listener evidence only.")
    enrichment_llm_weight: float = Field(
        default=1.0, ge=0, le=20, description="What one LLM label of an artist counts, where one dialog keeping "
        "one of its tracks counts 1.")


class EmbedderConfig(Frozen):
    model: str = Field(default="all-MiniLM-L6-v2", description="Name of a sentence-transformers model shipped offline.")
    batch_size: int = Field(default=128, ge=1)
    device: str = Field(default="cpu")
    runtime: Literal["torch", "onnx"] = Field(default="onnx", description="onnx (the default: ONNX Runtime, exported locally from the same weights at first start; same vectors and version as torch, a replica starts in ~1 s instead of ~14 s and encodes ~2.7x faster at batch 1) or torch (sentence-transformers).")
    quantize: bool = Field(default=False, description="onnx only: dynamic int8 quantisation (faster, different vectors: its own version).")
    onnx_cache_dir: str = Field(default="~/.cache/segue/onnx", description="Where the exported ONNX model is cached.")


class IntentConfig(Frozen):
    backend: Literal["fallback", "vllm", "openai"] = "fallback"
    deadline_ms: int = Field(default=2000, ge=10, description="LLM deadline per request; past it the fallback parser answers.")
    tag_threshold: float = Field(default=0.5, ge=0, le=1, description="Min cosine similarity for a zero-shot tag.")
    vllm: VLLMConfig = Field(default_factory=VLLMConfig, description="Used when backend is vllm.")
    openai: OpenAIConfig = Field(default_factory=OpenAIConfig, description="Used when backend is openai.")


class HybridConfig(Frozen):
    """Lexical (BM25) retrieval fused with the dense retriever."""

    enabled: bool = Field(default=True, description="Fuse BM25 over title/artists/album with the dense scores.")
    fusion: Literal["weighted", "rrf"] = Field(default="weighted", description="weighted: dense + weight x BM25/max; rrf: reciprocal-rank fusion.")
    weight: float = Field(default=0.2, ge=0, le=1, description="Weight of the lexical side in the fusion.")
    lexical_k: int = Field(default=200, ge=1, le=5000, description="BM25 hits added to the dense candidates before fusion.")


class RetrievalConfig(Frozen):
    embedder: EmbedderConfig = Field(default_factory=EmbedderConfig)
    hybrid: HybridConfig = Field(default_factory=HybridConfig)
    index_kind: Literal["flat", "hnsw"] = "flat"
    top_k: int = Field(default=200, ge=1, le=5000, description="Candidates handed to the ranker.")
    cache_dir: str = Field(default="~/.cache/segue", description="Where built indexes are cached.")
    load_timeout_s: float = Field(default=600.0, gt=0, description="How long a search waits for the index to load.")


class RankingConfig(Frozen):
    version: str = Field(default="ltr-v1", description="baseline-v1, or a learned-ranker artifact such as ltr-v1 (the default: see docs/quality.md).")
    artifacts_dir: str | None = Field(default=None, description="Directory of learned-ranker artifacts (<dir>/<version>/); None = the ones shipped in the package.")
    max_per_artist: int = Field(default=5, ge=1, description="Artist diversity cap, lifted for artists the listener asked for; a playlist of more than ten times the cap allows a tenth of its length per artist (ranking/diversity.py: artist_cap). 5: listeners' own playlists repeat artists; a cap of 2 cost ~15% of recall@50 on CPCD (docs/quality.md).")


class RateLimitConfig(Frozen):
    enabled: bool = True
    requests_per_s: float = Field(default=20.0, gt=0, description="Sustained requests per second per client, per Ingress replica.")
    burst: int = Field(default=40, ge=1, description="Requests a client may send at once before being limited.")
    max_clients: int = Field(default=10_000, ge=1, description="Clients tracked at once (bounded memory).")
    max_in_flight_per_client: int = Field(
        default=4, ge=1, description="Requests one client may have in flight at once, per Ingress replica; more get "
        "429. Keeps a few long requests of one client from taking the capacity of everyone else.")
    fair_share_above: int | None = Field(
        default=4, ge=1, description="Once an Ingress replica has this many requests in flight, each active "
        "client is held to an equal share of them (a client over its share gets 429; one with nothing in flight "
        "is always let in). None = only max_in_flight_per_client.")


class SecurityConfig(Frozen):
    admin_token_env: str = Field(
        default="SEGUE_ADMIN_TOKEN",
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="Env var holding the admin token (a Kubernetes Secret). Unset = admin features off; never a default.",
    )
    max_body_bytes: int = Field(default=16_384, ge=1024, description="Larger request bodies get 413.")
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)
    trust_forwarded_for: bool = Field(
        default=False, description="Key rate limits on X-Forwarded-For, but only for requests whose socket peer is "
        "in trusted_proxies; otherwise the peer address is the client.")
    trusted_proxies: list[str] = Field(
        default_factory=list, description="CIDRs of the proxies in front of Segue (load balancer, ingress "
        "controller) whose X-Forwarded-For is believed when trust_forwarded_for is on.")
    cors_origins: list[str] = Field(default_factory=list, description="Browser origins allowed by CORS; empty = CORS closed.")

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, v: list[str]) -> list[str]:
        for cidr in v:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"'{cidr}' is not a CIDR; write e.g. 10.0.0.0/8 or 127.0.0.1/32") from None
        return v

    @model_validator(mode="after")
    def _trust_needs_proxies(self) -> "SecurityConfig":
        if self.trust_forwarded_for and not self.trusted_proxies:
            raise ValueError("trust_forwarded_for needs trusted_proxies (the CIDRs of your load balancer or "
                             "ingress controller); without them X-Forwarded-For is never believed")
        return self


class SessionsConfig(Frozen):
    ttl_s: float = Field(default=86400.0, gt=0, description="A session untouched this long expires (404 after).")
    max_turns: int = Field(default=20, ge=1, le=200, description="Turns per session (the first included); past it, 409.")
    max_sessions: int = Field(default=100000, ge=1, description="Stored sessions kept; the least recently used go first.")
    max_feedback: int = Field(default=100, ge=1, le=1000, description="Track ids per turn in liked + disliked.")


class BatchingConfig(Frozen):
    """Micro-batching in the Ingress: concurrent requests are gathered (serving/microbatch.py: a
    batch forms when one of the slots is free) and each stage is called once per batch, grouped by arm."""

    enabled: bool = Field(default=True, description="Gather concurrent requests into batches; off = every request alone.")
    max_batch_size: int = Field(default=16, ge=1, le=256, description="Most requests in one batch. Below 20 a flat FAISS search scores each query as it would alone.")
    batch_wait_timeout_s: float = Field(default=0.004, ge=0, le=1, description="Longest a request waits for its batch to fill.")
    max_concurrent_batches: int = Field(default=2, ge=1, le=64, description="Batches in flight at once per Ingress replica; requests arriving while all are busy wait and go out together in the next batch.")


class AdmissionConfig(Frozen):
    """The global bound on work an Ingress replica accepts: past it, 503 + Retry-After at once
    instead of queueing for seconds (per-client limits are security.rate_limit's job)."""

    enabled: bool = True
    max_in_flight: int = Field(default=48, ge=1, description="Most playlist/search requests in flight per Ingress replica; more get 503. The effective bound is at most deployments.ingress.max_ongoing_requests - 1, so that the excess is answered here rather than queued by Serve.")
    target_latency_s: float = Field(default=0.5, ge=0, le=30, description="Adapt the in-flight bound (AIMD) so that answers take about this long at most: faster answers raise it, slower ones cut it; 0 = the fixed max_in_flight only. Raise it for an intent backend whose answers take longer (a CPU LLM). Measured in docs/performance.md section 6.")
    min_in_flight: int = Field(default=4, ge=1, description="The adaptive bound never goes below this.")
    retry_after_s: int = Field(default=1, ge=1, le=60, description="Retry-After of the 503.")


class HttpConfig(Frozen):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    timeouts: EdgeTimeouts = Field(default_factory=EdgeTimeouts, description="Enforced in Serve's HTTP proxy.")
    limits: EdgeLimits = Field(default_factory=EdgeLimits, description="Enforced in Serve's HTTP proxy.")


class AppConfig(Frozen):
    """Everything Segue needs to serve. Load with `AppConfig.from_yaml` or `load_config`."""

    name: str = Field(default="segue", pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")
    route_prefix: str = Field(default="/")
    http: HttpConfig = Field(default_factory=HttpConfig)
    catalog: CatalogConfig = Field(default_factory=CatalogConfig)
    intent: IntentConfig = Field(default_factory=IntentConfig)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    ranking: RankingConfig = Field(default_factory=RankingConfig)
    deployments: DeploymentsConfig = Field(default_factory=DeploymentsConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    logging: ServeLoggingConfig = Field(default_factory=ServeLoggingConfig)
    experiment: ExperimentConfig | None = Field(
        default=None, description="A/B or canary experiment; weights change live via the Ingress user_config."
    )
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    sessions: SessionsConfig = Field(default_factory=SessionsConfig)
    batching: BatchingConfig = Field(default_factory=BatchingConfig)
    admission: AdmissionConfig = Field(default_factory=AdmissionConfig)
    store: StoreConfig = Field(
        default_factory=StoreConfig,
        description="Where served playlists, feedback and experiment aggregates are kept (SQLite file or PostgreSQL).",
    )

    def edge_settings(self) -> EdgeSettings:
        return EdgeSettings(timeouts=self.http.timeouts, limits=self.http.limits,
                            max_body_bytes=self.security.max_body_bytes, shedding=self._edge_shedding())

    def _edge_shedding(self) -> EdgeShedding:
        """The proxy's bound: never tighter than every Ingress replica's own bound together (the
        adaptive part then finds what the proxy itself can pass within target_latency_s)."""
        a, ingress = self.admission, self.deployments.ingress
        per_replica = min(a.max_in_flight, max(1, ingress.max_ongoing_requests - 1))
        prefix = self.route_prefix.rstrip("/")
        return EdgeShedding(enabled=a.enabled, max_in_flight=per_replica * ingress.autoscaling.max_replicas,
                            min_in_flight=a.min_in_flight, target_latency_s=a.target_latency_s,
                            retry_after_s=a.retry_after_s, paths=(f"{prefix}/v1/playlists", f"{prefix}/v1/search"))

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, source: str = "config") -> "AppConfig":
        try:
            return cls.model_validate(data or {})
        except ValidationError as e:
            raise ConfigError(_explain(e, source)) from e

    @classmethod
    def from_yaml(cls, path: str | Path) -> "AppConfig":
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {p} does not exist; pass an existing YAML, e.g. serving/configs/default.yaml")
        try:
            data = yaml.safe_load(p.read_text())
        except yaml.YAMLError as e:
            raise ConfigError(f"{p}: not valid YAML: {e}") from e
        if data is not None and not isinstance(data, dict):
            raise ConfigError(f"{p}: top level must be a mapping of config keys, got {type(data).__name__}")
        return cls.from_dict(data, source=str(p))


def _explain(e: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for err in e.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        msg = "unknown key (check its spelling)" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"  {loc}: {msg}")
    return "\n".join(lines)


def load_config(path: str | Path | None) -> AppConfig:
    return AppConfig() if path is None else AppConfig.from_yaml(path)
