import json

import pytest

from serving.catalog.loader import load_catalog
from serving.evaluation.dialogs import DialogsError, load_dialogs


def _write(tmp_path, tracks, dialogs):
    c = tmp_path / "c.jsonl"
    c.write_text("".join(json.dumps(t) + "\n" for t in tracks))
    d = tmp_path / "d.jsonl"
    d.write_text("".join(json.dumps(x) + "\n" for x in dialogs))
    return load_catalog(c), d


def test_gold_is_deduplicated_by_cluster_then_title_and_first_artist(tmp_path):
    tracks = [
        {"track_id": "a1", "title": "Hey Ya!", "artists": ["Outkast"], "cluster_id": "c9"},
        {"track_id": "a2", "title": "Hey Ya (Live)", "artists": ["OutKast", "Other"], "cluster_id": "c9"},
        {"track_id": "b1", "title": "Roxanne", "artists": ["The Police"]},
        {"track_id": "b2", "title": "Roxanne (Remastered 2003)", "artists": ["the police", "Sting"]},
        {"track_id": "c1", "title": "Roxanne", "artists": ["Someone Else"]},
    ]
    dialogs = [
        {"id": "x", "turns": [{"user_query": "  upbeat hits  "}], "goal_playlist": ["a1", "a2", "b1", "b2", "c1"], "tracks": {}},
        {"id": "empty", "turns": [{"user_query": "hi"}], "goal_playlist": [], "tracks": {}},
        {"id": "noturn", "turns": [], "goal_playlist": ["a1"], "tracks": {}},
    ]
    cat, path = _write(tmp_path, tracks, dialogs)
    cases, skipped = load_dialogs(path, cat)
    assert skipped == 2
    (case,) = cases
    assert case.prompt == "upbeat hits"
    assert len(case.gold_ids) == 5
    assert len(case.gold_keys) == 3  # c9 cluster, roxanne|the police, roxanne|someone else


def test_gold_missing_from_catalog_uses_dialog_metadata(tmp_path):
    tracks = [{"track_id": "a1", "title": "Song", "artists": ["A"]}]
    meta = {"zz": {"track_titles": "Song", "track_artists": ["A"], "track_ids": "zz"}}
    cat, path = _write(tmp_path, tracks, [{"id": "x", "turns": [{"user_query": "q"}], "goal_playlist": ["a1", "zz"], "tracks": meta}])
    (case,), _ = load_dialogs(path, cat)
    assert len(case.gold_keys) == 1  # same title + first artist as a1


def test_malformed_file_names_the_line(tmp_path):
    cat, path = _write(tmp_path, [{"track_id": "a1", "title": "S", "artists": ["A"]}], [])
    path.write_text('{"id": 1, "turns": [], "goal_playlist": []}\nnot json\n')
    with pytest.raises(DialogsError, match="line 2"):
        load_dialogs(path, cat)
    with pytest.raises(DialogsError, match="does not exist"):
        load_dialogs(tmp_path / "nope.jsonl", cat)
