"""LLM judges: the rubric prompt, structured JSON verdicts, and two transports.

- `OpenAICompatibleJudge`: any OpenAI-compatible /v1/chat/completions endpoint (vLLM's
  server, a hosted API) over httpx, with `response_format: json_schema` so the
  verdict is schema-constrained where the server supports it, and validated always.
- `ClientJudge`: an in-process engine behind the small `LLMClient` interface, so an engine
  can judge without HTTP. No adapter in the package implements it yet; the tests plug in a
  stand-in. (The intent backends' `complete_json` decodes under any schema and
  is what one would wrap; catalog enrichment's LLM labels use it.)
"""

from __future__ import annotations

import abc
import json
from typing import Any

from pydantic import BaseModel, ValidationError

from serving.evaluation.judging.base import (
    RUBRIC_VERSION, Judge, JudgeError, PairVerdict, PlaylistItem, Verdict, rubric_text,
)


class LLMClient(abc.ABC):
    """The least an engine must offer to judge: chat messages in, JSON text out, constrained by a schema."""

    name: str

    @abc.abstractmethod
    async def generate_json(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int) -> str: ...


def _listing(items: list[PlaylistItem]) -> str:
    return "\n".join(f"{i + 1}. {t.line()}" for i, t in enumerate(items))


def pointwise_messages(prompt: str, playlist: list[PlaylistItem]) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": rubric_text()},
        {"role": "user", "content": (
            f"Request: {prompt}\n\nPlaylist ({len(playlist)} tracks):\n{_listing(playlist)}\n\n"
            "Reply with JSON: fulfilment, coherence, variety, overall (integers 1-5) and rationale."
        )},
    ]


def pairwise_messages(prompt: str, a: list[PlaylistItem], b: list[PlaylistItem]) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": rubric_text()},
        {"role": "user", "content": (
            f"Request: {prompt}\n\nPlaylist A:\n{_listing(a)}\n\nPlaylist B:\n{_listing(b)}\n\n"
            'Reply with JSON: winner ("A", "B" or "tie") and rationale.'
        )},
    ]


def _parse(text: str, model: type[BaseModel]):
    s = text.strip()
    if s.startswith("```"):  # some servers wrap JSON in a fence even when asked not to
        s = s.strip("`").removeprefix("json").strip()
    try:
        return model.model_validate_json(s)
    except ValidationError as e:
        raise JudgeError(f"judge output is not a valid {model.__name__}: {e.errors()[0]['msg']} in {text[:200]!r}") from e


class LLMJudge(Judge):
    """Rubric prompts and verdict parsing; subclasses only move messages to a model and back."""

    max_tokens = 300

    @abc.abstractmethod
    async def _complete(self, messages: list[dict[str, str]], schema: dict[str, Any], schema_name: str) -> str: ...

    async def score(self, prompt: str, playlist: list[PlaylistItem]) -> Verdict:
        text = await self._complete(pointwise_messages(prompt, playlist), Verdict.model_json_schema(), "verdict")
        return _parse(text, Verdict)

    async def compare(self, prompt: str, a: list[PlaylistItem], b: list[PlaylistItem]) -> PairVerdict:
        text = await self._complete(pairwise_messages(prompt, a, b), PairVerdict.model_json_schema(), "pair_verdict")
        return _parse(text, PairVerdict)


class OpenAICompatibleJudge(LLMJudge):
    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout_s: float = 60.0,
                 temperature: float = 0.0, client=None):
        import httpx

        self.name = f"openai:{model}@{RUBRIC_VERSION}"
        self.model = model
        self.temperature = temperature
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = client or httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s, headers=headers)

    async def _complete(self, messages, schema, schema_name) -> str:
        import httpx

        body = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "response_format": {"type": "json_schema",
                                "json_schema": {"name": schema_name, "schema": schema, "strict": True}},
        }
        try:
            r = await self._client.post("/chat/completions", json=body)
        except httpx.HTTPError as e:
            raise JudgeError(f"judge endpoint {self._client.base_url} unreachable: {e}") from e
        if r.status_code != 200:
            raise JudgeError(f"judge endpoint answered {r.status_code}: {r.text[:300]}")
        try:
            return r.json()["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError, json.JSONDecodeError) as e:
            raise JudgeError(f"judge endpoint reply is not an OpenAI chat completion: {r.text[:300]}") from e

    async def close(self) -> None:
        await self._client.aclose()


class ClientJudge(LLMJudge):
    """A judge on an in-process engine (e.g. the vLLM backend) that implements LLMClient."""

    def __init__(self, client: LLMClient):
        self.client = client
        self.name = f"{client.name}@{RUBRIC_VERSION}"

    async def _complete(self, messages, schema, schema_name) -> str:
        return await self.client.generate_json(messages, schema, self.max_tokens)
