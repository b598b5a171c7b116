"""LLM artist labels for the enrichment: prompt, schema, parsing, the labels file, and how the
labels enter the evidence. The engine itself is exercised in tests/integration/test_intent_vllm.py;
here a scripted answerer stands in for it so each rule can be checked on its own."""

from __future__ import annotations

import asyncio
import json

import pytest

from serving.catalog.enrichment import llm_labels as L
from serving.catalog.enrichment.builder import build
from serving.catalog.loader import Catalog
from serving.intent.backend import IntentBackend
from serving.intent.openai_backend import chat_request
from serving.intent.llm_config import OpenAIConfig
from serving.schemas import Track


def _t(tid, title, artist, album=None):
    return Track(track_id=tid, title=title, artists=[artist], album=album)


class Scripted:
    """Answers `complete_json` from a dict (artist name -> raw text, or an exception to raise)."""

    def __init__(self, answers):
        self.answers = answers
        self.seen = []

    async def complete_json(self, prompt, template, schema, max_tokens):
        self.seen.append((prompt, template.version, schema, max_tokens))
        ans = self.answers[prompt.split(".")[0].removeprefix("Artist: ")]
        if isinstance(ans, Exception):
            raise ans
        return ans


def test_the_schema_allows_only_taxonomy_names_and_known_codes():
    s = L.label_schema()
    assert set(s["properties"]["genres"]["items"]["enum"]) == set(L.GENRES)
    assert s["properties"]["genres"]["maxItems"] == L.MAX_GENRES and s["additionalProperties"] is False
    assert "unknown" in s["properties"]["decade"]["enum"] and "1990s" in s["properties"]["decade"]["enum"]


def test_parse_label_validates_and_maps_unknown_to_none():
    lab = L.parse_label("Metallica", '{"genres":["metal","rock","metal"],"decade":"1980s","language":"unknown"}')
    assert lab.genres == ("metal", "rock") and lab.decade == "1980s" and lab.language is None
    for bad in ('{"genres":["thrash"],"decade":"1980s","language":"en"}', '{"genres":[],"decade":"1980s"}',
                '{"genres":["metal"],"decade":"1985","language":"en"}', "[1]", "not json"):
        with pytest.raises(L.LabelError):
            L.parse_label("Metallica", bad)


def test_the_few_shot_examples_name_no_catalog_artist_and_render_as_chat_and_text():
    t = L.template()
    tracks = [_t("m1", "One", "Metallica")]
    names = {c.name for c in L.artist_cards(tracks, 10)}
    assert not any(n in t.system or any(n in q for q, _ in t.examples) for n in names)
    text = t.completion("Artist: X. Songs: Y")
    assert text.endswith("Artist card: Artist: X. Songs: Y\nLabels: ") and "Intent:" not in text
    assert t.messages("Artist: X. Songs: Y")[-1] == {"role": "user", "content": "Artist: X. Songs: Y"}
    for _, answer in t.examples:
        L.parse_label("example", answer)  # the examples obey the schema they teach


def test_cards_take_the_most_frequent_lead_artists_and_skip_karaoke_labels():
    tracks = [_t("a1", "Song A", "Alpha", "Record"), _t("a2", "Song B", "Alpha", "Song B"), _t("a3", "Song C", "Alpha"),
              _t("k1", "Hit (Karaoke Version)", "Sing Along Band"), _t("k2", "Hit 2 (Karaoke Version)", "Sing Along Band"),
              _t("b1", "Tune", "Beta")]
    cards = L.artist_cards(tracks, 5)
    assert [c.name for c in cards] == ["Alpha", "Beta"]
    assert cards[0].titles == ("Song A", "Song B", "Song C") and cards[0].albums == ("Record",)  # a single is no album
    assert cards[0].text() == "Artist: Alpha. Songs: Song A; Song B; Song C. Albums: Record"
    assert len(L.artist_cards(tracks, 1)) == 1


def test_label_artists_keeps_order_and_records_each_failure():
    ok = '{"genres":["jazz"],"decade":"1950s","language":"en"}'
    backend = Scripted({"A": ok, "B": "{", "C": RuntimeError("engine died")})
    cards = [L.ArtistCard(n, ("t",), ()) for n in "ABC"]
    run = asyncio.run(L.label_artists(backend, cards, concurrency=2))
    assert [lab.artist for lab in run.labels] == ["A"]
    assert set(run.errors) == {"B", "C"} and run.errors["C"].startswith("RuntimeError")
    st = run.stats()
    assert st["artists"] == 3 and st["labelled"] == 1 and st["error_kinds"] == {"LabelError": 1, "RuntimeError": 1}
    assert {v for _, v, _, _ in backend.seen} == {L.PROMPT_VERSION}


def test_labels_file_round_trips_and_names_the_fix_when_missing(tmp_path):
    run = L.LabelRun([L.ArtistLabel("Nina Simone", ("jazz", "blues"), "1960s", "en")], {"Zed": "LabelError: x"}, 2.0)
    p = L.write_labels(run, {"intent_model": "m"}, tmp_path / "labels.jsonl")
    meta, labels = L.read_labels(p)
    assert meta["intent_model"] == "m" and meta["prompt"] == L.PROMPT_VERSION and meta["errors"] == 1
    assert labels == run.labels
    with pytest.raises(FileNotFoundError, match="segue label-artists"):
        L.read_labels(tmp_path / "none.jsonl")
    (tmp_path / "bad.jsonl").write_text(json.dumps({"artist": "X", "genres": ["polka"]}) + "\n")
    with pytest.raises(ValueError, match="bad.jsonl:1"):
        L.read_labels(tmp_path / "bad.jsonl")


def test_votes_share_the_weight_over_genres_and_the_key_follows_labels_and_weight():
    labs = [L.ArtistLabel("Nina Simone", ("jazz", "blues"), "1960s", None), L.ArtistLabel("X", ("pop",), None, None)]
    votes = L.artist_votes(labs, 2.0)
    assert ("nina simone", "genre:jazz", 1.0) in votes and ("nina simone", "decade:1960", 2.0) in votes
    assert ("x", "genre:pop", 2.0) in votes and len(votes) == 4
    assert L.key_suffix([], 1.0) == ""
    assert L.key_suffix(labs, 1.0) == L.key_suffix(list(reversed(labs)), 1.0) != L.key_suffix(labs, 2.0)
    assert L.key_suffix(labs, 1.0) != L.key_suffix(labs[:1], 1.0)


def test_llm_labels_become_evidence_for_an_artist_no_listener_spoke_of():
    tracks = (_t("m1", "Master of Puppets", "Metallica"), _t("x1", "Mystery Song", "Nobody Knows"))
    catalog = Catalog(tracks, "f" * 64, "test")
    dialogs = [{"id": "a", "turns": [{"user_query": "heavy metal please", "liked_results": ["m1"]}],
                "goal_playlist": ["m1"]}]
    plain, _ = build(catalog, None, dialogs, "emb", "ev")
    assert plain.artist("Nobody Knows").genres == {}
    labs = [L.ArtistLabel("Nobody Knows", ("jazz",), "1950s", "fr")]
    enr, _ = build(catalog, None, dialogs, "emb", "ev", llm_labels=labs)
    a = enr.artist("Nobody Knows")
    assert a.genres == {"jazz": 1.0} and "1950" in a.decades and a.evidence["llm"] == "jazz 1950s fr"
    assert enr.key != plain.key and any("LLM artist labels" in s for s in enr.meta["sources"])
    assert enr.artist("Metallica").genres.get("metal") == 1.0  # listener evidence is untouched


def test_backends_without_an_engine_refuse_other_schemas_and_openai_names_the_schema():
    class Parser(IntentBackend):
        name = "fallback"

        async def generate(self, prompt):
            raise AssertionError

    with pytest.raises(ValueError, match="use vllm or openai"):
        asyncio.run(Parser().complete_json("x", L.template(), L.label_schema(), 64))
    body = chat_request(OpenAIConfig(), L.template().messages("Artist: X"), L.label_schema(),
                        name=L.PROMPT_VERSION, max_tokens=64)
    assert body["max_tokens"] == 64 and body["response_format"]["json_schema"]["name"] == L.PROMPT_VERSION
    assert body["response_format"]["json_schema"]["schema"] == L.label_schema()
