import math

import pytest

from serving.evaluation.metrics import bootstrap_ci, dialog_metrics, distinct, hit_at, ndcg_at, recall_at, summarise


def test_hit_recall_ndcg_by_hand():
    ranked = ["x", "g1", "y", "g2", "z"]
    gold = {"g1", "g2", "g3", "g4"}
    assert hit_at(ranked, gold, 1) == 0.0
    assert hit_at(ranked, gold, 2) == 1.0
    assert recall_at(ranked, gold, 3) == pytest.approx(1 / 4)
    assert recall_at(ranked, gold, 5) == pytest.approx(2 / 4)
    # hits at positions 2 and 4 (1-based): 1/log2(3) + 1/log2(5); ideal: 4 hits at 1..4
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = sum(1 / math.log2(i + 2) for i in range(4))
    assert ndcg_at(ranked, gold, 5) == pytest.approx(dcg / idcg)
    # ideal truncated at k: with k=2 only two gold can count
    assert ndcg_at(["g1", "g2"], gold, 2) == pytest.approx(1.0)


def test_duplicates_count_once_and_do_not_push_hits_down():
    m = dialog_metrics(["a", "a", "a", "g"], {"g"})
    assert distinct(["a", "a", "b", "a"]) == ["a", "b"]
    assert m["ndcg@20"] == pytest.approx(1 / math.log2(3))  # g is 2nd distinct recording
    assert dialog_metrics(["g", "g"], {"g", "h"})["recall@50"] == pytest.approx(0.5)


def test_hit_at_100_needs_rank_within_100():
    ranked = [f"x{i}" for i in range(100)] + ["g"]
    assert dialog_metrics(ranked, {"g"})["hit@100"] == 0.0
    assert dialog_metrics(ranked[:99] + ["g"], {"g"})["hit@100"] == 1.0


def test_recall_rejects_empty_gold():
    with pytest.raises(ValueError, match="empty gold"):
        recall_at(["a"], set(), 5)


def test_bootstrap_interval_contains_mean_and_is_reproducible():
    vals = [0.0] * 60 + [1.0] * 40
    e = bootstrap_ci(vals, n_boot=2000, seed=1)
    assert e.mean == pytest.approx(0.4)
    assert e.low < 0.4 < e.high
    assert 0.25 < e.low and e.high < 0.55  # ~ +-1.96*sqrt(.24/100) = +-0.096
    assert bootstrap_ci(vals, n_boot=2000, seed=1) == e
    const = bootstrap_ci([0.3] * 10)
    assert const.low == pytest.approx(0.3) and const.high == pytest.approx(0.3)


def test_summarise_has_exactly_the_four_metrics():
    rows = [dialog_metrics(["g"], {"g"}), dialog_metrics(["x"], {"g"})]
    assert set(summarise(rows, n_boot=50)) == {"hit@20", "hit@100", "recall@50", "ndcg@20"}
