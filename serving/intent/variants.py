"""The IntentModel's variants and arm plan, free of Ray: one intent service per (backend, prompt
version) the configured arms use, all sharing the fast parser (and its embedder), and one engine
per LLM backend kind whatever the prompt (arms that differ only in prompt_version share a vLLM)."""

from __future__ import annotations

from typing import Callable

from serving.arm_plan import ArmPlan
from serving.config import AppConfig
from serving.errors import NotReady
from serving.experiments.components import all_arm_components, arm_app_config, intent_variant, prompt_version
from serving.experiments.config import ArmComponents
from serving.intent.backend import IntentBackend
from serving.intent.faults import FaultConfig, FaultInjectingBackend
from serving.intent.service import IntentService


class IntentVariants:
    def __init__(self, config: AppConfig, default: IntentService,
                 make_backend: Callable[[AppConfig], IntentBackend | None]):
        self._config = config
        self.default = default
        self._make_backend = make_backend
        self.engines: dict[str, IntentBackend | None] = {config.intent.backend: default.backend}
        self._services: dict[str, IntentService] = {intent_variant(config): default}
        for comps in all_arm_components(config):
            self._load(arm_app_config(config, comps))
        self._plain = {key: s.backend for key, s in self._services.items()}  # before any fault wrapper
        self.plan: ArmPlan[IntentService] = ArmPlan(self._resolve, all_arm_components(config))

    def _load(self, cfg: AppConfig) -> None:
        key = intent_variant(cfg)
        if key in self._services:
            return
        kind = cfg.intent.backend
        if kind not in self.engines:
            self.engines[kind] = self._make_backend(cfg)
        engine, version = self.engines[kind], prompt_version(cfg)
        backend = engine.with_prompt(version) if engine is not None and version is not None else engine
        self._services[key] = IntentService(backend, self.default.parser, deadline_s=cfg.intent.deadline_ms / 1000,
                                            edits=self.default.edits)

    def _resolve(self, comps: ArmComponents | None) -> IntentService:
        service = self._services.get(intent_variant(arm_app_config(self._config, comps)))
        if service is None:
            raise NotReady(f"the arm with components '{comps.key if comps else ''}' asks for an intent backend or "
                           "prompt this replica did not load; redeploy with the arm in the app's experiment config",
                           retry_after_s=30)
        return service

    @property
    def has_llm(self) -> bool:
        return any(b is not None for b in self._plain.values())

    def inject(self, fault: FaultConfig) -> None:
        """Every LLM variant gets the fault (it is the engine's, whichever prompt an arm renders);
        an inactive fault restores the plain backends."""
        for key, plain in self._plain.items():
            if plain is not None:
                self._services[key].backend = FaultInjectingBackend(plain, fault) if fault.active else plain

    def shutdown(self) -> None:
        for engine in self.engines.values():  # the real ones, not fault-injecting wrappers or prompt views
            if engine is not None:
                engine.shutdown()
