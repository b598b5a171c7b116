"""`segue tune-feedback`: re-ranking recorded turns must reproduce the replay, and only the
tuning folds' dialogs may choose the weights."""

import json
from collections import Counter

import pytest

from serving.catalog.loader import load_catalog
from serving.config import AppConfig
from serving.evaluation.dialogs import load_dialogs
from serving.evaluation.feedback_tuning import FeedbackTuner
from serving.evaluation.runner import Evaluator, Variant
from serving.ranking.feedback import FeedbackWeights
from serving.ranking.training import TrainParams, folds
from tests.quality_fakes import GENRES, HashEmbedder, write_tiny_cpcd

SMALL = TrainParams(n_estimators=20, min_data_in_leaf=5, num_leaves=7)


def _three_turns(path):
    """The tiny dialogs as conversations: a longer goal, liked tracks at each turn, follow-up messages."""
    out = []
    for line in path.read_text().splitlines():
        d = json.loads(line)
        if not d["goal_playlist"]:
            continue
        g = d["goal_playlist"][0].split("-")[0]
        goal = [f"{g}-{k}" for k in range(8)]
        other = GENRES[(GENRES.index(g) + 1) % len(GENRES)]
        d["goal_playlist"] = goal
        d["turns"] = [
            {**d["turns"][0], "liked_results": goal[:3], "disliked_results": [f"{other}-0"]},
            {"user_query": f"more {g} please, no {other}", "liked_results": goal[3:5], "disliked_results": []},
            {"user_query": "something a bit more upbeat", "liked_results": goal[5:6], "disliked_results": []},
        ]
        out.append(d)
    path.write_text("".join(json.dumps(d) + "\n" for d in out))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cpcd")
    cat_path, dl_path = write_tiny_cpcd(root, n_dialogs=30)
    _three_turns(dl_path)
    cfg = AppConfig.from_dict({"catalog": {"path": str(cat_path), "enrichment_dialogs": str(dl_path)},
                               "retrieval": {"cache_dir": str(root / "cache"), "top_k": 30},
                               "ranking": {"version": "ltr-test", "artifacts_dir": str(root / "artifacts")}})
    dialogs, _ = load_dialogs(dl_path, load_catalog(cat_path))
    ev = Evaluator(dialogs, catalog_path=str(cat_path), length=20, cv="always", n_folds=3, progress=False,
                   n_boot=50, embedder_factory=lambda c: HashEmbedder())
    return ev, Variant("ltr", cfg, train=SMALL)


def test_tuning_replays_only_its_folds_and_never_ends_below_its_start(setup):
    ev, variant = setup
    tuner = FeedbackTuner(ev, frozenset({0}), length=20)
    grid = {"liked_sim": (0.0, 4.0), "cooc": (0.0, 6.0), "liked_artist": (0.0, 2.0), "cooc_artist": (0.0, 1.0),
            "liked_artist_cap": (0, 8)}  # not a signal's weight: a FeedbackWeights field all the same
    start = FeedbackWeights(liked_sim=0.0, cooc=0.0, liked_artist=0.0, cooc_artist=0.0, liked_artist_cap=0)
    res = tuner.tune(variant, start=start, passes=2, grid=grid)  # raises if re-ranking != the replay
    fold0 = {ev.dialogs[j].id for j in folds([d.id for d in ev.dialogs], 3, 0)[0][1]}
    assert set(tuner.records) == fold0
    assert res.dialogs == len(fold0) and res.turns > res.dialogs  # later turns were scored
    assert any(rec[0] == "scored" for _, turns in tuner.records.values() for rec in turns)
    assert res.objective >= res.start_objective
    assert res.start_macro == pytest.approx(tuner.macro(start))
    assert res.macro == pytest.approx(tuner.macro(res.weights))
    assert res.weights.liked_artist_cap in (0, 8)


def test_recorded_turns_rerank_to_what_the_replay_served_under_any_weights(setup):
    ev, variant = setup
    tuner = FeedbackTuner(ev, frozenset({1}), length=20)
    w = FeedbackWeights(liked_sim=6.0, cooc=0.5, liked_artist=3.0, cooc_artist=0.0, liked_artist_cap=8)
    served = tuner.record(variant, w)
    assert tuner.macro(w) == pytest.approx(served, abs=1e-12)


def test_a_recorded_fold_is_kept_and_reused(setup, tmp_path, monkeypatch):
    ev, variant = setup
    tuner = FeedbackTuner(ev, frozenset({2}), length=20, cache_dir=tmp_path)
    served = tuner.record(variant)
    assert len(list(tmp_path.glob("fold2-*.pkl"))) == 1
    again = FeedbackTuner(ev, frozenset({2}), length=20, cache_dir=tmp_path)
    monkeypatch.setattr(again, "tev", None)
    from serving.evaluation import feedback_tuning

    monkeypatch.setattr(feedback_tuning, "TurnEvaluator", None)  # a replay now would fail
    assert again.record(variant) == pytest.approx(served)
    monkeypatch.undo()
    assert again.macro(FeedbackWeights()) == pytest.approx(served, abs=1e-12)


def test_a_recorded_turn_with_a_head_rule_pickles_and_orders_alike():
    import pickle

    import numpy as np

    from serving.evaluation.feedback_tuning import picklable
    from serving.intent.model import Intent
    from serving.ranking.feedback import FeedbackRanking, Scored
    from serving.schemas import Candidate, Track

    pool = [Candidate(track=Track(track_id=f"t{i}", title=f"song {i}", artists=[f"artist {i}"]), dense_score=0.0,
                      retrieval_rank=i) for i in range(30)]
    sc = Scored(Intent(search_text="rock", genres=["rock"]), [], pool, np.linspace(1, 0, 30),
                {k: np.zeros(30) for k in ("liked_sim", "cooc", "liked_artist", "cooc_artist", "liked_album")},
                lambda c: "", Counter(), set(), head=lambda t: int(t.track_id[1:]) % 3 == 0)
    before = [c.track.track_id for _, c in FeedbackRanking.order(sc, FeedbackWeights(), 15, 2)]
    picklable(sc)
    again = pickle.loads(pickle.dumps(sc))
    assert [c.track.track_id for _, c in FeedbackRanking.order(again, FeedbackWeights(), 15, 2)] == before
    assert before[:10] == [f"t{i}" for i in range(0, 30, 3)]  # the head rule still leads
