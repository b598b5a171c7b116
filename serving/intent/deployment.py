"""The IntentModel deployment: an IntentService with the configured backend."""

from __future__ import annotations

import logging
from contextlib import ExitStack

from serving import telemetry
from serving.catalog.loader import load_catalog
from serving.config import AppConfig
from serving.errors import NotReady
from serving.experiments.components import all_arm_components, arm_app_config, components_from_ctx, intent_key
from serving.intent.backend import IntentBackend
from serving.intent.fallback import FastParser
from serving.intent.faults import FaultConfig, FaultInjectingBackend
from serving.intent.metrics import IntentMetrics
from serving.metrics import BatchStats
from serving.intent.service import IntentResult, IntentService
from serving.retrieval.embedder import Embedder, make_embedder
from serving.schemas import RequestContext

log = logging.getLogger(__name__)


def make_backend(config: AppConfig) -> IntentBackend | None:
    """The primary backend named by config; None means the fast parser answers directly.
    LLM backends are imported here only, so the default path never imports vLLM."""
    kind = config.intent.backend
    if kind == "fallback":
        return None
    if kind == "vllm":
        from serving.intent.embedded_model import resolve_model_dir
        from serving.intent.vllm_backend import VLLMBackend

        cfg = config.intent.vllm
        return VLLMBackend(cfg, resolve_model_dir(cfg.model, cfg.models_dir))
    if kind == "openai":
        from serving.intent.openai_backend import OpenAIBackend

        return OpenAIBackend(config.intent.openai)
    raise ValueError(f"unknown intent backend '{kind}'; use fallback, vllm or openai")


def build_intent_service(
    config: AppConfig, embedder: Embedder | None = None, backend: IntentBackend | None = None
) -> IntentService:
    """`backend` overrides the configured one (tests, benchmarks, comparisons)."""
    embedder = embedder or make_embedder(config.retrieval.embedder)
    catalog = load_catalog(config.catalog.path)
    artists = sorted({a for t in catalog.tracks for a in t.artists})
    parser = FastParser(embedder, artists, tag_threshold=config.intent.tag_threshold)
    backend = backend if backend is not None else make_backend(config)
    return IntentService(backend, parser, deadline_s=config.intent.deadline_ms / 1000)


class IntentModelDeployment:
    def __init__(self, config: AppConfig, backend: IntentBackend | None = None):
        self._config = config
        self._service = build_intent_service(config, backend=backend)
        # Experiment arms with another backend/prompt share the fast parser (and its
        # embedder); only the primary backend differs per arm.
        self._services = {intent_key(config): self._service}
        for comps in all_arm_components(config):
            cfg = arm_app_config(config, comps)
            if intent_key(cfg) not in self._services:
                self._services[intent_key(cfg)] = IntentService(
                    make_backend(cfg), self._service.parser, deadline_s=cfg.intent.deadline_ms / 1000
                )
        self._backend = self._service.backend
        self._metrics = IntentMetrics.create()
        self._batches = BatchStats()
        # The query vector must come from the arm's retrieval embedder: one model per distinct
        # embedder config, the parser's own for the default.
        self._embedders: dict[str, Embedder] = {}
        default = self._service.parser.embedder
        for comps in all_arm_components(config):
            ecfg = arm_app_config(config, comps).retrieval.embedder
            key = ecfg.model_dump_json()
            if key not in self._embedders:
                same = ecfg == config.retrieval.embedder and default is not None
                self._embedders[key] = default if same else make_embedder(ecfg)

    def reconfigure(self, user_config: dict) -> None:
        """Live switches without a restart: currently the fault injector (see intent/faults.py)."""
        fault = FaultConfig.model_validate((user_config or {}).get("fault") or {})
        if self._backend is None:
            if fault.active:
                log.warning("fault injection asked for, but the intent backend is the fast parser: nothing to stall")
            return
        self._service.backend = FaultInjectingBackend(self._backend, fault) if fault.active else self._backend

    async def parse(self, prompt: str, ctx: RequestContext) -> IntentResult:
        return (await self.parse_batch([prompt], [ctx]))[0]

    async def parse_batch(self, prompts: list[str], ctxs: list[RequestContext]) -> list[IntentResult]:
        """One arm's batch (the Ingress groups by arm): intents plus one query vector each."""
        self._batches.record("intent", len(prompts))
        comps = components_from_ctx(ctxs[0]) if ctxs else None
        cfg = arm_app_config(self._config, comps)
        service = self._services.get(intent_key(cfg)) if comps else self._service
        embedder = self._embedders.get(cfg.retrieval.embedder.model_dump_json())
        with ExitStack() as stack:
            scopes = [stack.enter_context(telemetry.stage("intent", ctx, batch=len(ctxs))) for ctx in ctxs]
            if service is None or embedder is None:
                raise NotReady(f"arm '{ctxs[0].arm}' asks for an intent backend or embedder this replica did not "
                               "load; redeploy with the arm in the app's experiment config", retry_after_s=30)
            results = await service.parse_batch(prompts, embedder)
            for scope, result in zip(scopes, results):
                scope.intent(result)
        for result in results:
            self._metrics.record(result)
        return results

    def batch_stats(self) -> dict[str, int]:
        return self._batches.snapshot()

    def stats(self) -> dict:
        """Fallback counts by reason, and whether the LLM backend is up."""
        return self._service.stats()

    def ready(self) -> tuple[bool, str]:
        return self._backend.ready() if self._backend is not None else (True, "fast parser")

    def __del__(self):
        # Serve calls this when the replica stops: the vLLM engine core is a child process.
        backend = getattr(self, "_backend", None)  # the real one, not a fault-injecting wrapper
        if backend is not None:
            backend.shutdown()
