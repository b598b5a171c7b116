"""CPCD's turn-by-turn protocol, checked against a dialog scored by hand."""

import pytest

from serving.evaluation.turns import (
    dialog_turn_metrics, metrics_at, seed_tracks, summarise_turns, to_clusters, turn_inputs,
)

CLUSTER = {"b2": "B"}  # b2 is another upload of b


def cl(tid: str) -> str:
    return CLUSTER.get(tid, tid.upper())


D1 = {"id": "d1", "goal_playlist": ["a", "b", "c", "d", "e", "f"], "turns": [
    {"user_query": "q0", "liked_results": ["a", "b", "c", "d"], "disliked_results": ["x"]},
    {"user_query": "q1", "liked_results": ["e"], "disliked_results": []},
    {"user_query": "q2", "liked_results": ["f"], "disliked_results": ["y"]},
]}
D2 = {"id": "d2", "goal_playlist": ["a"], "turns": [
    {"user_query": "p0", "liked_results": ["a"], "disliked_results": []},
    {"user_query": "p1", "liked_results": [], "disliked_results": []},
]}


def test_seeds_are_the_first_three_liked_of_the_previous_turn():
    assert seed_tracks(D1["turns"]) == [[], ["a", "b", "c"], ["e"]]


def test_turn_inputs_see_messages_so_far_and_only_earlier_seeds_and_dislikes():
    t = turn_inputs(D1)
    assert [x.messages for x in t] == [("q0",), ("q0", "q1"), ("q0", "q1", "q2")]
    assert [x.seeds for x in t] == [(), ("a", "b", "c"), ("a", "b", "c", "e")]
    assert [x.disliked for x in t] == [(), ("x",), ("x",)]
    assert t[2].new_seeds == ("e",) and t[1].new_disliked == ("x",)
    # "d" was liked at turn 0 but is not a seed: it must never be visible (it stays gold).
    assert all("d" not in x.seeds for x in t)
    assert t[1].joined_prompt == "q0 q1"


def test_cluster_mapping_dedups_in_order():
    assert to_clusters(["a", "x", "b2", "b", "d"], cl) == ["A", "X", "B", "D"]


def test_metrics_match_hand_computation():
    m = metrics_at(["A", "X", "B", "D"], ["A", "B", "C", "D", "E", "F"], (1, 5))
    assert m["hit@1"] == 1 and m["recall@1"] == pytest.approx(1 / 6) and m["precision@1"] == 1 and m["mrr@1"] == 1
    assert m["recall@5"] == pytest.approx(0.5) and m["precision@5"] == pytest.approx(3 / 4)
    assert m["map@5"] == pytest.approx((1 + 2 / 3 + 3 / 4) / 4)
    m = metrics_at(["X", "Y", "A"], ["A"], (1, 5))
    assert m["hit@1"] == 0 and m["mrr@5"] == pytest.approx(1 / 3)


def _dialog_rows(d, preds):
    seeds = [to_clusters(s, cl) for s in seed_tracks(d["turns"])]
    return dialog_turn_metrics([to_clusters(p, cl) for p in preds], to_clusters(d["goal_playlist"], cl), seeds, (1, 5))


def test_seeds_leave_preds_and_gold_and_empty_gold_skips_the_turn():
    r1 = _dialog_rows(D1, [["a", "x", "b2", "b", "d"], ["a", "e", "y", "d"], ["z"]])
    assert len(r1) == 3
    # turn 1: a,b,c removed from both; preds [E, Y, D] vs gold [D, E, F]
    assert r1[1]["hit@1"] == 1 and r1[1]["recall@5"] == pytest.approx(2 / 3)
    assert r1[1]["precision@5"] == pytest.approx(2 / 3) and r1[1]["map@5"] == pytest.approx((1 + 2 / 3) / 3)
    assert r1[2]["hit@5"] == 0
    r2 = _dialog_rows(D2, [["q", "a"], ["a"]])
    assert len(r2) == 1  # turn 1's gold is all seeds: skipped
    assert r2[0]["hit@1"] == 0 and r2[0]["mrr@5"] == pytest.approx(0.5) and r2[0]["recall@5"] == 1

    s = summarise_turns([r1, r2, []])
    assert s.dialogs == 2 and s.turns == 4  # a dialog with no scored turn does not count
    assert s.macro["hit@1"] == pytest.approx((2 / 3 + 0) / 2)
    assert s.micro["hit@1"] == pytest.approx(2 / 4)
    assert s.macro["hit@5"] == pytest.approx((2 / 3 + 1) / 2)
    assert s.per_turn["hit@1"][:3] == [pytest.approx(0.5), 1.0, 0.0]
    assert s.per_turn_counts[:3] == [2, 1, 1]
