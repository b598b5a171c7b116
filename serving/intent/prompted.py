"""One LLM engine behind several prompt templates: experiment arms that differ only in
`prompt_version` share the engine (one vLLM per replica) and each render their own prompt."""

from __future__ import annotations

from serving.intent.backend import IntentBackend
from serving.intent.model import Intent
from serving.intent.prompt_template import PromptTemplate


class PromptedBackend(IntentBackend):
    def __init__(self, engine: IntentBackend, template: PromptTemplate):
        self.engine = engine
        self.template = template
        self.name = engine.name

    async def generate(self, prompt: str) -> Intent:
        return await self.engine.generate(prompt, template=self.template)

    @property
    def versions(self) -> dict[str, str]:
        return {**self.engine.versions, "intent_prompt": self.template.version}

    def ready(self) -> tuple[bool, str]:
        return self.engine.ready()

    def shutdown(self) -> None:
        """The engine is shared: its owner (the default variant) shuts it down."""

    async def close(self) -> None:
        """As shutdown: the engine outlives this view."""
