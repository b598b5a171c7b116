"""Pure parts of the LLM tooling: model resolution, the comparison metrics, the bench table."""

import json

import pytest

from serving.catalog.loader import load_catalog
from serving.evaluation.dialogs import load_dialogs
from serving.intent.embedded_model import EmbeddedModelError, converted_dir, resolve_model_dir
from serving.ranking.diversity import recording_key
from serving.tools.compare_intent import load_cases

pytestmark = pytest.mark.unit


def test_embedded_model_must_be_converted_first(tmp_path):
    with pytest.raises(EmbeddedModelError, match="segue convert-llm"):
        resolve_model_dir("gemma3-270m", str(tmp_path))
    d = converted_dir("gemma3-270m", str(tmp_path))
    d.mkdir(parents=True)
    (d / "segue-conversion.json").write_text(json.dumps({"gguf_sha256": "wrong", "converter_version": "1"}))
    with pytest.raises(EmbeddedModelError):  # a cache from another GGUF is not valid
        resolve_model_dir("gemma3-270m", str(tmp_path))


def test_local_model_dirs_need_a_config_and_are_never_downloaded(tmp_path):
    with pytest.raises(EmbeddedModelError, match="never downloaded"):
        resolve_model_dir("Qwen/Qwen2.5-0.5B-Instruct", str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    assert resolve_model_dir(str(tmp_path), "/unused") == str(tmp_path)


def test_compare_scores_a_playlist_as_segue_eval_does(tmp_path):
    """compare-intent reuses the evaluation's dialogs, recording keys and metrics: one served list, one score."""
    c = tmp_path / "c.jsonl"
    c.write_text("".join(json.dumps(t) + "\n" for t in [
        {"track_id": "t1", "title": "Song", "artists": ["A"], "cluster_id": "c9"},
        {"track_id": "t2", "title": "Song (Live)", "artists": ["A"], "cluster_id": "c9"},
        {"track_id": "t3", "title": "Other & Co", "artists": ["B"]}]))
    d = tmp_path / "d.jsonl"
    rows = [{"id": "1", "turns": [{"user_query": "jazz please"}], "goal_playlist": ["t1", "t2", "t3"], "tracks": {}},
            {"id": "2", "turns": [{"user_query": "anything"}], "goal_playlist": [], "tracks": {}},
            {"id": "3", "turns": [{"user_query": "more"}], "goal_playlist": ["t3"], "tracks": {}}]
    d.write_text("\n".join(json.dumps(r) for r in rows))
    catalog = load_catalog(c)
    cases = load_cases(d, catalog, limit=1)
    assert [(x.id, x.prompt) for x in cases] == [("1", "jazz please")]
    assert cases[0].gold_keys == {"c:c9", recording_key(catalog.tracks[2])}
    assert load_cases(d, catalog) == load_dialogs(d, catalog)[0]
