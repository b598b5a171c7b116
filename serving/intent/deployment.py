"""The IntentModel deployment: an IntentService per arm variant, resolved at start-up."""

from __future__ import annotations

import logging
from contextlib import ExitStack

from serving import telemetry
from serving.catalog.loader import load_catalog
from serving.config import AppConfig
from serving.intent.backend import IntentBackend
from serving.intent.edits import EditResult, EditRules
from serving.intent.model import Intent
from serving.intent.fallback import FastParser
from serving.intent.spelling import catalog_words
from serving.intent.faults import FaultConfig
from serving.arm_plan import ArmPlan
from serving.experiments.components import all_arm_components, arm_app_config
from serving.experiments.config import ArmComponents
from serving.metrics import BatchStats
from serving.intent.service import IntentResult, IntentService
from serving.intent.variants import IntentVariants
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
    parser = FastParser(embedder, artists, tag_threshold=config.intent.tag_threshold,
                        vocabulary=catalog_words(catalog.tracks))
    backend = backend if backend is not None else make_backend(config)
    edits = EditRules(artists, ((t.track_id, t.title) for t in catalog.tracks))
    return IntentService(backend, parser, deadline_s=config.intent.deadline_ms / 1000, edits=edits)


class IntentModelDeployment:
    def __init__(self, config: AppConfig, backend: IntentBackend | None = None):
        self._config = config
        self._service = build_intent_service(config, backend=backend)
        self._backend = self._service.backend
        self._variants = IntentVariants(config, self._service, make_backend)
        self.plan = self._variants.plan
        self._batches = BatchStats()
        # The query vector must come from the arm's retrieval embedder: one model per distinct
        # embedder config (the parser's own for the app's), resolved per arm at start-up.
        self._embedders: dict[str, Embedder] = {}
        self.embedder_plan: ArmPlan[Embedder] = ArmPlan(self._embedder_for, all_arm_components(config))

    def reconfigure(self, user_config: dict) -> None:
        """Live switches without a restart: currently the fault injector (see intent/faults.py)."""
        fault = FaultConfig.model_validate((user_config or {}).get("fault") or {})
        if not self._variants.has_llm:
            if fault.active:
                log.warning("fault injection asked for, but the intent backend is the fast parser: nothing to stall")
            return
        self._variants.inject(fault)

    def _embedder_for(self, comps: ArmComponents | None) -> Embedder:
        ecfg = arm_app_config(self._config, comps).retrieval.embedder
        key = ecfg.model_dump_json()
        if key not in self._embedders:
            default = self._service.parser.embedder
            same = ecfg == self._config.retrieval.embedder and default is not None
            self._embedders[key] = default if same else make_embedder(ecfg)
        return self._embedders[key]

    async def parse(self, prompt: str, ctx: RequestContext) -> IntentResult:
        return (await self.parse_batch([prompt], [ctx]))[0]

    async def parse_batch(self, prompts: list[str], ctxs: list[RequestContext]) -> list[IntentResult]:
        """One arm's batch (the Ingress groups by arm key): intents plus one query vector each,
        the zero-shot and query embeddings of the whole batch made in one call each."""
        self._batches.record("intent", len(prompts))
        key = ctxs[0].arm_key if ctxs else ""
        with ExitStack() as stack:
            scopes = [stack.enter_context(telemetry.stage("intent", ctx, batch=len(ctxs))) for ctx in ctxs]
            service, embedder = self.plan.for_arm(key), self.embedder_plan.for_arm(key)
            results = await service.parse_batch(prompts, embedder)
            for scope, result in zip(scopes, results):
                scope.intent(result)
        return results

    async def update(self, previous: Intent, message: str, ctx: RequestContext) -> tuple[IntentResult, EditResult]:
        """A session turn's intent: the previous one refined by the new message."""
        with telemetry.stage("intent", ctx, session_update=True) as scope:
            service = self.plan.for_arm(ctx.arm_key)
            result, edits = await service.update(previous, message)
            scope.intent(result)
        return result, edits

    def batch_stats(self) -> dict[str, int]:
        return self._batches.snapshot()

    def stats(self) -> dict:
        """Fallback counts by reason, and whether the LLM backend is up."""
        return self._service.stats()

    def ready(self) -> tuple[bool, str]:
        return self._backend.ready() if self._backend is not None else (True, "fast parser")

    def __del__(self):
        # Serve calls this when the replica stops: the vLLM engine core is a child process.
        variants = getattr(self, "_variants", None)
        if variants is not None:
            variants.shutdown()
