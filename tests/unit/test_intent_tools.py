"""Pure parts of the LLM tooling: model resolution, the comparison metrics, the bench table."""

import json

import pytest

from serving.intent.compare import load_cases, metrics, track_key
from serving.intent.embedded_model import EmbeddedModelError, converted_dir, resolve_model_dir

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


def test_metrics_on_a_hand_computed_list():
    gold = {"a", "b", "c", "d"}
    ranked = ["x", "a", "a", "y", "b"] + [f"z{i}" for i in range(100)]
    m = metrics(ranked, gold)  # duplicates count once: a at rank 2, b at rank 4
    assert m["hit@20"] == 1.0 and m["hit@100"] == 1.0
    assert m["recall@50"] == 0.5
    dcg = 1 / 1.5849625007211562 + 1 / 2.321928094887362
    idcg = 1 + 1 / 1.584962500721156 + 1 / 2 + 1 / 2.321928094887362
    assert m["ndcg@20"] == pytest.approx(dcg / idcg)
    assert metrics(["x"] * 30, gold)["hit@20"] == 0.0


def test_gold_dedupes_by_cluster_then_title_and_artist_and_skips_empty_goals(tmp_path):
    catalog = {"t1": {"title": "Song", "artists": ["A"], "cluster_id": "c9"},
               "t2": {"title": "Song", "artists": ["A"], "cluster_id": "c9"}}
    dialogs = tmp_path / "d.jsonl"
    rows = [
        {"id": "1", "turns": [{"user_query": "jazz please"}], "goal_playlist": ["t1", "t2", "t3"],
         "tracks": {"t3": {"track_titles": "Other (Live)", "track_artists": ["B", "C"]}}},
        {"id": "2", "turns": [{"user_query": "anything"}], "goal_playlist": [], "tracks": {}},
    ]
    dialogs.write_text("\n".join(json.dumps(r) for r in rows))
    cases = load_cases(dialogs, catalog)
    assert [(c[0], c[1]) for c in cases] == [("1", "jazz please")]
    assert cases[0][2] == {"c:c9", "t:other live|b"}
    assert track_key({"title": "Other  (LIVE)", "artists": ["b"]}) == "t:other live|b"
