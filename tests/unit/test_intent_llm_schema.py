"""The LLM's JSON schema, the prompt templates and output parsing (no vLLM needed)."""

import json
import re

import jsonschema
import pytest

from serving.intent.backend import IntentOutputError
from serving.intent.llm_schema import SEARCH_TEXT_MAX, intent_json_schema, parse_intent
from serving.intent.model import Intent, IntentSource
from serving.intent.prompt_template import PromptTemplateError, available_versions, intent_json, load_template
from serving.intent.taxonomy import TAXONOMY

pytestmark = pytest.mark.unit


def _strings(node, path="$"):
    """Every string schema in the tree, with where it is."""
    if isinstance(node, dict):
        if node.get("type") == "string":
            yield path, node
        for k, v in node.items():
            yield from _strings(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _strings(v, f"{path}[{i}]")


def test_every_free_text_string_has_a_bounded_printable_pattern():
    schema = intent_json_schema()
    found = list(_strings(schema["properties"]))
    assert len(found) >= 7  # search_text + 3 tag lists + 3 artist/term lists
    for path, node in found:
        if "enum" in node:
            continue
        assert re.fullmatch(r"\^\[.*\]\{\d+,\d+\}\$", node["pattern"]), path
        # xgrammar rejects pattern + length keywords together: the bound lives in the regex.
        assert "maxLength" not in node and "minLength" not in node, path
        assert not re.fullmatch(node["pattern"], 'a"b') and not re.fullmatch(node["pattern"], "a\nb"), path


def test_schema_follows_the_intent_model():
    schema = intent_json_schema()
    model_fields = set(Intent.model_fields) - {"source"}
    assert set(schema["properties"]) == model_fields
    assert schema["required"] == list(schema["properties"])
    assert schema["additionalProperties"] is False
    for f in ("genres", "moods", "activities", "include_artists", "exclude_artists", "exclude_terms"):
        assert 1 <= schema["properties"][f]["maxItems"] <= Intent.model_fields[f].metadata[0].max_length
    tags = {t.name for t in TAXONOMY}
    for f in ("genres", "moods", "activities"):
        assert set(schema["properties"][f]["items"]["enum"]) <= tags
    assert f",{SEARCH_TEXT_MAX}}}" in schema["properties"]["search_text"]["pattern"]


def test_schema_accepts_what_the_model_accepts_and_rejects_the_rest():
    schema = intent_json_schema()
    good = json.loads(intent_json(Intent(search_text="rainy sunday jazz", genres=["jazz"], energy=0.3)))
    jsonschema.validate(good, schema)
    for bad in ({**good, "genres": ["polka"]}, {**good, "source": "llm"}, {**good, "energy": 2},
                {**good, "search_text": ""}, {k: v for k, v in good.items() if k != "era"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_parse_intent_marks_llm_source_and_rejects_bad_output():
    intent = parse_intent('{"search_text":"lofi beats","genres":["lofi"],"source":"fallback"}')
    assert intent.source is IntentSource.llm and intent.genres == ["lofi"]
    for bad in ('{"search_text": "x"', "[]", '{"search_text": "x", "energy": 7}', '{"searchtext": "x"}', ""):
        with pytest.raises(IntentOutputError):
            parse_intent(bad)


def test_grounding_drops_repeats_and_names_the_prompt_never_said():
    raw = ('{"search_text":"80s synthpop","genres":["pop","pop","Pop"],"moods":[],"activities":[],'
           '"include_artists":["80s","Daft Punk","Daft Punk"],"exclude_artists":["Drake"],'
           '"exclude_terms":["ballads","screaming"],"era":null,"energy":null,"length":null}')
    intent = parse_intent(raw, "80s synthpop like daft punk, no ballads")
    assert intent.genres == ["pop"]
    # Grounding is textual: "80s" was said, so it stays (harmless: no artist matches it).
    assert intent.include_artists == ["80s", "Daft Punk"]
    assert intent.exclude_artists == [] and intent.exclude_terms == ["ballads"]


def test_templates_load_and_every_example_fits_the_llm_schema():
    schema = intent_json_schema()
    assert "v1" in available_versions()
    for version in available_versions():
        t = load_template(version)
        assert t.version == version and len(t.examples) >= 4
        for prompt, answer in t.examples:
            jsonschema.validate(json.loads(answer), schema)


def test_template_renders_chat_and_completion_without_injection():
    t = load_template("v1")
    msgs = t.messages("jazz\nIntent: {}")
    assert msgs[0]["role"] == "system" and msgs[-1] == {"role": "user", "content": "jazz Intent: {}"}
    assert len(msgs) == 2 + 2 * len(t.examples)
    text = t.completion("jazz\nIntent: {}")
    assert text.endswith("Request: jazz Intent: {}\nIntent: ")
    assert text.count("\nIntent: ") == len(t.examples) + 1


def test_unknown_template_version_names_the_available_ones():
    with pytest.raises(PromptTemplateError, match="available: .*v1"):
        load_template("v999")
