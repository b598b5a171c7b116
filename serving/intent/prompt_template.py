"""Versioned prompt templates (serving/intent/prompts/<version>.yaml) for the LLM backends.

A template is a system prompt plus few-shot examples. It renders either as chat
messages (instruct models, OpenAI-compatible servers) or as plain few-shot text
(base models without a chat template, such as the embedded Gemma 3 270M).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from serving.intent.model import Intent

PROMPTS_DIR = Path(__file__).parent / "prompts"


class PromptTemplateError(ValueError):
    """A prompt template is missing or malformed."""


def intent_json(intent: Intent) -> str:
    """The compact JSON an LLM is taught to produce: every schema field, in schema order."""
    return json.dumps(intent.model_dump(mode="json", exclude={"source"}), separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class PromptTemplate:
    version: str
    system: str
    examples: tuple[tuple[str, str], ...]  # (prompt, intent JSON)
    # How plain few-shot text names a request and its answer (base models copy the pattern).
    request_label: str = "Request"
    answer_label: str = "Intent"

    def messages(self, prompt: str) -> list[dict[str, str]]:
        msgs = [{"role": "system", "content": self.system}]
        for p, answer in self.examples:
            msgs += [{"role": "user", "content": p}, {"role": "assistant", "content": answer}]
        msgs.append({"role": "user", "content": _one_line(prompt)})
        return msgs

    def completion(self, prompt: str) -> str:
        """Plain few-shot text ending where the model writes the JSON."""
        q, a_ = self.request_label, self.answer_label
        shots = "".join(f"{q}: {p}\n{a_}: {a}\n\n" for p, a in self.examples)
        return f"{self.system}\n\n{shots}{q}: {_one_line(prompt)}\n{a_}: "


def conversation_prompt(previous: Intent, message: str) -> str:
    """A session turn for an LLM backend: the previous intent and the listener's new message,
    rendered as the request of the same template, so the answer is the updated intent under
    the same JSON schema (every field, not a diff)."""
    return (f"Current intent: {intent_json(previous)} The listener now says: {_one_line(message)} "
            "Update the current intent to reflect the new message (add, remove or change fields; keep "
            "everything the message does not change) and answer with the complete updated intent.")


def _one_line(prompt: str) -> str:
    # A newline in user text must not be able to start a fake "Intent:" line.
    return " ".join(prompt.split())


def available_versions() -> list[str]:
    return sorted(p.stem for p in PROMPTS_DIR.glob("v*.yaml"))


@lru_cache(maxsize=8)
def load_template(version: str) -> PromptTemplate:
    path = PROMPTS_DIR / f"{version}.yaml"
    if not path.is_file():
        raise PromptTemplateError(
            f"prompt version '{version}' not found in {PROMPTS_DIR}; available: {', '.join(available_versions())}"
        )
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or data.get("version") != version:
        raise PromptTemplateError(f"{path}: must be a mapping whose 'version' is '{version}'")
    system = data.get("system")
    if not isinstance(system, str) or not system.strip():
        raise PromptTemplateError(f"{path}: 'system' must be a non-empty string")
    examples = []
    for i, ex in enumerate(data.get("examples") or []):
        try:
            intent = Intent.model_validate(ex["intent"])
        except (KeyError, TypeError, ValidationError) as e:
            raise PromptTemplateError(f"{path}: examples[{i}] needs 'prompt' and a valid 'intent': {e}") from e
        examples.append((_one_line(str(ex["prompt"])), intent_json(intent)))
    return PromptTemplate(version, system.strip(), tuple(examples))
