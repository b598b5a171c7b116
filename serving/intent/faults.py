"""Fault injection for the intent LLM backend, switched live through the IntentModel's
`user_config` ({"fault": {"stall_s": 30}} or {"fault": {"error_rate": 0.5}}).

For game days and the load test: it makes the *engine* slow or failing, so the
deadline and fallback path is exercised for real, with no restart and no code change.
"""

from __future__ import annotations

import asyncio
import random

from pydantic import BaseModel, ConfigDict, Field

from serving.intent.backend import IntentBackend
from serving.intent.model import Intent


class FaultConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stall_s: float = Field(default=0.0, ge=0, le=3600, description="Delay before the engine answers.")
    error_rate: float = Field(default=0.0, ge=0, le=1, description="Share of calls that fail with an engine error.")

    @property
    def active(self) -> bool:
        return self.stall_s > 0 or self.error_rate > 0


class InjectedEngineFault(RuntimeError):
    pass


class FaultInjectingBackend(IntentBackend):
    def __init__(self, inner: IntentBackend, fault: FaultConfig, rng: random.Random | None = None):
        self.inner = inner
        self.fault = fault
        self.name = inner.name
        self._rng = rng or random.Random()

    @property
    def versions(self) -> dict[str, str]:
        return self.inner.versions

    async def generate(self, prompt: str) -> Intent:
        if self.fault.stall_s:
            await asyncio.sleep(self.fault.stall_s)
        if self.fault.error_rate and self._rng.random() < self.fault.error_rate:
            raise InjectedEngineFault("injected engine fault (IntentModel user_config.fault)")
        return await self.inner.generate(prompt)

    async def close(self) -> None:
        await self.inner.close()
