"""The JSON schema an LLM decodes against, derived from the pydantic Intent model,
and the parsing of what it returns.

Derived, not hand-written, so the two cannot drift: every field and bound of
`Intent` is kept. What changes for constrained decoding:
- `source` is dropped: the service sets it, a model must not claim it;
- every string, list items included, gets TEXT_PATTERN's character class with
  the length bound written into the regex (`{1,60}`), so the output always
  parses (random or small models otherwise emit control chars). xgrammar
  rejects a pattern combined with minLength/maxLength, hence the quantifier;
- genre / mood / activity items are the taxonomy's tag names (an enum), the same
  vocabulary the fast parser emits, so ranking sees one tag language;
- every property is required, so the model emits a fixed key order (cheaper to
  decode and easier for a small model than optional keys).
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from serving.intent.backend import IntentOutputError
from serving.intent.model import TEXT_PATTERN, Intent, IntentSource
from serving.intent.taxonomy import tags_of
from serving.text import norm

# Tighter than Intent's own bounds where a long string or list would only cost
# tokens: small models greedily fill a list to maxItems with repeats.
SEARCH_TEXT_MAX = 120
ITEM_MAX = 60
MAX_ITEMS = {"genres": 3, "moods": 3, "activities": 2, "include_artists": 5, "exclude_artists": 5, "exclude_terms": 5,
             "similar_artists": 3}
_TAG_FIELDS = {"genres": "genre", "moods": "mood", "activities": "activity"}


# TEXT_PATTERN is ^[...]*$; the same character class with explicit bounds.
assert TEXT_PATTERN.startswith("^[") and TEXT_PATTERN.endswith("]*$")
_TEXT_CLASS = TEXT_PATTERN[1:-2]


def bounded_text_pattern(min_length: int, max_length: int) -> str:
    return f"^{_TEXT_CLASS}{{{min_length},{max_length}}}$"


def _constrain_strings(node: Any, max_length: int) -> None:
    """Give every free-text string schema a bounded pattern instead of min/maxLength (in place)."""
    if isinstance(node, dict):
        if node.get("type") == "string" and "enum" not in node:
            hi = node.pop("maxLength", max_length)
            lo = max(node.pop("minLength", 1), 1)
            node["pattern"] = bounded_text_pattern(lo, hi)
        for v in node.values():
            _constrain_strings(v, max_length)
    elif isinstance(node, list):
        for v in node:
            _constrain_strings(v, max_length)


@lru_cache(maxsize=1)
def _schema_json() -> str:
    schema = copy.deepcopy(Intent.model_json_schema())
    props = schema["properties"]
    props.pop("source", None)
    schema.get("$defs", {}).pop("IntentSource", None)
    for field, kind in _TAG_FIELDS.items():
        props[field]["items"] = {"type": "string", "enum": [t.name for t in tags_of(kind)]}
    for field, n in MAX_ITEMS.items():
        props[field]["maxItems"] = n
    props["search_text"]["maxLength"] = SEARCH_TEXT_MAX
    _constrain_strings(props, ITEM_MAX)
    schema["required"] = list(props)
    schema["additionalProperties"] = False
    return json.dumps(schema, sort_keys=False)


def intent_json_schema() -> dict[str, Any]:
    """A fresh copy of the schema (callers may mutate it)."""
    return json.loads(_schema_json())




def _dedupe(items: list[str]) -> list[str]:
    seen, out = set(), []
    for x in items:
        k = norm(x)
        if k and k not in seen:
            seen.add(k)
            out.append(x.strip())
    return out


def ground(intent: Intent, prompt: str) -> Intent:
    """Keep only what the prompt supports: repeated list items go, and artist names or
    exclusions that appear nowhere in the prompt (a small model's inventions) are dropped.
    Tags are not grounded: "morning run" implying workout is the point of an LLM."""
    text = f" {norm(prompt)} "
    said = lambda x: f" {norm(x)} " in text  # noqa: E731
    update = {f: _dedupe(getattr(intent, f)) for f in ("genres", "moods", "activities")}
    for f in ("include_artists", "exclude_artists", "exclude_terms", "similar_artists"):
        update[f] = [x for x in _dedupe(getattr(intent, f)) if said(x)]
    # An artist the listener excluded is not also wanted.
    excluded = {norm(a) for a in update["exclude_artists"]}
    update["include_artists"] = [a for a in update["include_artists"] if norm(a) not in excluded]
    return intent.model_copy(update=update)


def parse_intent(text: str, prompt: str | None = None) -> Intent:
    """LLM output -> Intent (grounded in `prompt` when given), or IntentOutputError saying what was wrong."""
    text = text.strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise IntentOutputError(f"not JSON ({e.msg} at char {e.pos}): {text[:120]!r}") from e
    if not isinstance(data, dict):
        raise IntentOutputError(f"expected a JSON object, got {type(data).__name__}")
    data.pop("source", None)
    try:
        intent = Intent.model_validate(data)
    except ValidationError as e:
        raise IntentOutputError(f"does not validate as an Intent: {e.errors()[0]['loc']}: {e.errors()[0]['msg']}") from e
    intent = intent.model_copy(update={"source": IntentSource.llm})
    return ground(intent, prompt) if prompt is not None else intent
