"""The IntentModel deployment: an IntentService with the configured backend."""

from __future__ import annotations

import logging

from serving import telemetry
from serving.catalog.loader import load_catalog
from serving.config import AppConfig
from serving.intent.backend import IntentBackend
from serving.intent.fallback import FastParser
from serving.intent.faults import FaultConfig, FaultInjectingBackend
from serving.intent.service import IntentResult, IntentService
from serving.retrieval.embedder import Embedder, make_embedder
from serving.schemas import RequestContext

log = logging.getLogger(__name__)


def make_backend(config: AppConfig) -> IntentBackend | None:
    """The primary backend named by config; None means the fast parser answers directly."""
    if config.intent.backend == "fallback":
        return None
    raise NotImplementedError(f"intent backend '{config.intent.backend}' is not available in this build")


def build_intent_service(config: AppConfig, embedder: Embedder | None = None) -> IntentService:
    embedder = embedder or make_embedder(config.retrieval.embedder)
    catalog = load_catalog(config.catalog.path)
    artists = sorted({a for t in catalog.tracks for a in t.artists})
    parser = FastParser(embedder, artists, tag_threshold=config.intent.tag_threshold)
    return IntentService(make_backend(config), parser, deadline_s=config.intent.deadline_ms / 1000)


class IntentModelDeployment:
    def __init__(self, config: AppConfig):
        self._service = build_intent_service(config)
        self._backend = self._service.backend

    def reconfigure(self, user_config: dict) -> None:
        """Live switches without a restart: currently the fault injector (see intent/faults.py)."""
        fault = FaultConfig.model_validate((user_config or {}).get("fault") or {})
        if self._backend is None:
            if fault.active:
                log.warning("fault injection asked for, but the intent backend is the fast parser: nothing to stall")
            return
        self._service.backend = FaultInjectingBackend(self._backend, fault) if fault.active else self._backend

    async def parse(self, prompt: str, ctx: RequestContext) -> IntentResult:
        with telemetry.stage("intent", ctx) as scope:
            result = await self._service.parse(prompt)
            scope.intent(result)
        return result
