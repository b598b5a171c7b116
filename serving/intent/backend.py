"""The interface every LLM intent backend implements, and its errors."""

from __future__ import annotations

import abc

from serving.intent.model import Intent


class IntentOutputError(ValueError):
    """The backend produced output that does not validate as an Intent."""


class IntentBackendUnavailable(RuntimeError):
    """The backend cannot take the request now (engine loading, dead, overloaded).
    `reason` labels the fallback counter."""

    def __init__(self, message: str, reason: str = "unavailable"):
        super().__init__(message)
        self.reason = reason


class IntentBackend(abc.ABC):
    """Turns a prompt into an Intent. LLM backends may be slow or fail: the
    IntentService wraps them with a deadline and the fast parser."""

    name: str

    @abc.abstractmethod
    async def generate(self, prompt: str) -> Intent: ...

    async def update(self, previous: Intent, message: str) -> Intent:
        """A session turn: the previous intent refined by the listener's new message. LLM backends
        get the conversation through their own prompt template (prompt_template.conversation_prompt)."""
        from serving.intent.prompt_template import conversation_prompt

        return await self.generate(conversation_prompt(previous, message))

    async def complete_json(self, prompt: str, template, schema: dict, max_tokens: int) -> str:
        """Raw JSON text for `prompt` rendered by `template` (a PromptTemplate), decoding constrained
        to `schema`: the same engine answering another task (catalog enrichment labels artists
        through it). Raises IntentOutputError when the output was cut at `max_tokens`."""
        raise ValueError(f"intent backend '{self.name}' cannot answer other JSON schemas; use vllm or openai")

    @property
    def versions(self) -> dict[str, str]:
        return {"intent_backend": self.name}

    def ready(self) -> tuple[bool, str]:
        """Whether the backend can answer now (an engine may still be loading)."""
        return True, f"{self.name} backend"

    def shutdown(self) -> None:
        """Release engines/processes synchronously (a Serve replica's __del__)."""
        return None

    async def close(self) -> None:
        self.shutdown()

    def with_prompt(self, version: str) -> "IntentBackend":
        """This backend rendering another prompt template, on the same engine."""
        raise ValueError(f"intent backend '{self.name}' has no prompt templates; prompt_version needs vllm or openai")

