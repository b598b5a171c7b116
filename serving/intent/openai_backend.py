"""The `openai` intent backend: a remote OpenAI-compatible chat server over httpx
(a separate `vllm serve`, Ray Serve LLM, a hosted API).

Structured output uses the fields such servers honour today: OpenAI's
`response_format: {type: json_schema}` or vLLM's `structured_outputs` extra
field. The removed `guided_*` fields are never sent: current vLLM ignores them
silently and answers unconstrained.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from serving.intent.backend import IntentBackend, IntentBackendUnavailable, IntentOutputError
from serving.intent.llm_config import OpenAIConfig
from serving.intent.llm_schema import intent_json_schema, parse_intent
from serving.intent.model import Intent
from serving.intent.prompt_template import PromptTemplate, load_template
from serving.intent.prompted import PromptedBackend


def chat_request(cfg: OpenAIConfig, messages: list[dict[str, str]], schema: dict[str, Any], *,
                 name: str = "intent", max_tokens: int | None = None) -> dict[str, Any]:
    """The /chat/completions body (pure, so its shape is testable on its own)."""
    body: dict[str, Any] = {
        "model": cfg.model,
        "messages": messages,
        "max_tokens": max_tokens or cfg.max_tokens,
        "temperature": cfg.temperature,
    }
    if cfg.structured_output_field == "response_format":
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema, "strict": True},
        }
    else:
        body["structured_outputs"] = {"json": schema}
    return body


class OpenAIBackend(IntentBackend):
    name = "openai"

    def __init__(self, cfg: OpenAIConfig, client: httpx.AsyncClient | None = None):
        self.cfg = cfg
        self.template = load_template(cfg.prompt_version)
        self._schema = intent_json_schema()
        headers = {}
        if cfg.api_key_env:
            key = os.environ.get(cfg.api_key_env)
            if not key:
                raise ValueError(
                    f"intent.openai.api_key_env names {cfg.api_key_env}, which is not set; export it or drop the key"
                )
            headers["Authorization"] = f"Bearer {key}"
        self._client = client or httpx.AsyncClient(
            timeout=cfg.timeout_s,
            limits=httpx.Limits(max_connections=cfg.max_connections),
        )
        self._headers = headers

    @property
    def versions(self) -> dict[str, str]:
        return {"intent_backend": self.name, "intent_model": self.cfg.model, "intent_prompt": self.template.version}

    def with_prompt(self, version: str) -> IntentBackend:
        if version == self.template.version:
            return self
        return PromptedBackend(self, load_template(version))

    async def generate(self, prompt: str, template: PromptTemplate | None = None) -> Intent:
        body = chat_request(self.cfg, (template or self.template).messages(prompt), self._schema)
        return parse_intent(await self._complete(body), prompt)

    async def complete_json(self, prompt: str, template: PromptTemplate, schema: dict, max_tokens: int) -> str:
        return await self._complete(chat_request(self.cfg, template.messages(prompt), schema,
                                                 name=template.version, max_tokens=max_tokens))

    async def _complete(self, body: dict[str, Any]) -> str:
        """The answer's text; every transport or server failure as IntentBackendUnavailable."""
        try:
            r = await self._client.post(f"{self.cfg.base_url}/chat/completions", json=body, headers=self._headers)
        except httpx.TimeoutException as e:
            raise IntentBackendUnavailable(f"{self.cfg.base_url} timed out: {e!r}", "timeout") from e
        except httpx.HTTPError as e:
            raise IntentBackendUnavailable(f"{self.cfg.base_url} unreachable: {e!r}", "unavailable") from e
        if r.status_code in (429, 503):
            raise IntentBackendUnavailable(f"{self.cfg.base_url} overloaded: HTTP {r.status_code}", "overloaded")
        if r.status_code != 200:
            raise IntentBackendUnavailable(
                f"{self.cfg.base_url} answered HTTP {r.status_code}: {r.text[:200]}", "engine_error"
            )
        try:
            choice = r.json()["choices"][0]
            text = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise IntentOutputError(f"not an OpenAI chat completion: {r.text[:200]!r}") from e
        if choice.get("finish_reason") == "length":
            raise IntentOutputError(f"output cut at max_tokens={body['max_tokens']}: {str(text)[:120]!r}")
        return text or ""

    async def close(self) -> None:
        await self._client.aclose()
