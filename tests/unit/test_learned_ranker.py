import asyncio

import pytest

from serving.config import AppConfig, RankingConfig
from serving.evaluation.dialogs import load_dialogs
from serving.evaluation.runner import Evaluator, Variant
from serving.catalog.loader import load_catalog
from serving.ranking.ltr import ArtifactError, LearnedRanker, RankerArtifact
from serving.ranking.registry import UnknownRanker, available_rankers, make_ranker
from serving.ranking.diversity import recording_key
from serving.ranking.training import TrainParams, fit
from tests.quality_fakes import HashEmbedder, write_tiny_cpcd


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cpcd")
    cat_path, dl_path = write_tiny_cpcd(root)
    cfg = AppConfig.from_dict({"catalog": {"path": str(cat_path)}, "retrieval": {"cache_dir": str(root / "cache"), "top_k": 30}})
    dialogs, _ = load_dialogs(dl_path, load_catalog(cat_path))
    ev = Evaluator(dialogs, catalog_path=str(cat_path), length=20, progress=False, embedder_factory=lambda c: HashEmbedder())
    examples = asyncio.run(ev.examples(Variant("x", cfg)))
    art = fit(examples, "ltr-test", "hash-v1", TrainParams(n_estimators=20, min_data_in_leaf=5), note="unit")
    art.save(root / "artifacts")
    return root / "artifacts", examples


def test_artifact_round_trip_and_registry(artifact_dir):
    root, examples = artifact_dir
    loaded = RankerArtifact.load("ltr-test", root)
    assert loaded.meta["note"] == "unit" and loaded.meta["n_dialogs"] == len(examples)
    assert loaded.priors.dialog_ids == sorted(loaded.priors.dialog_ids) or len(loaded.priors.dialog_ids) == len(examples)
    assert "ltr-test" in available_rankers(RankingConfig(artifacts_dir=str(root)))
    r = make_ranker(RankingConfig(version="ltr-test", artifacts_dir=str(root), max_per_artist=1), embedder=HashEmbedder())
    assert isinstance(r, LearnedRanker) and r.version == "ltr-test"
    e = examples[0]
    out = r.rank(e.intent, e.candidates, 5)
    assert len(out) == 5
    assert len({t.artists[0] for t in out}) == 5  # max_per_artist=1 holds
    assert any("similar requests" in t.reason for t in out)


def test_baseline_still_available_and_errors_say_how_to_fix(artifact_dir):
    root, _ = artifact_dir
    assert make_ranker(RankingConfig(version="baseline-v1")).version == "baseline-v1"
    with pytest.raises(ArtifactError, match="train-ranker"):
        make_ranker(RankingConfig(version="ltr-nope", artifacts_dir=str(root)), embedder=HashEmbedder())
    with pytest.raises(ArtifactError, match="retrain"):
        make_ranker(RankingConfig(version="ltr-test", artifacts_dir=str(root)), embedder=HashEmbedder(version="other"))
    with pytest.raises(UnknownRanker, match="available"):
        make_ranker(RankingConfig(version="fancy"))


def test_embedder_factory_is_only_called_for_learned_rankers(artifact_dir):
    root, _ = artifact_dir
    called = []

    def factory():
        called.append(1)
        return HashEmbedder()

    make_ranker(RankingConfig(version="baseline-v1"), embedder=factory)
    assert not called
    make_ranker(RankingConfig(version="ltr-test", artifacts_dir=str(root)), embedder=factory)
    assert called == [1]


def test_bagged_members_round_trip_and_average(artifact_dir):
    import numpy as np

    from serving.ranking.features import FEATURES, extract

    root, examples = artifact_dir
    loaded = RankerArtifact.load("ltr-test", root)
    members = loaded.model.boosters
    assert len(members) == TrainParams().bag == loaded.meta["members"] > 1
    assert all((root / "ltr-test" / f).is_file() for f in ("model.txt", "model-1.txt", "model-2.txt"))
    e = examples[0]
    qp = loaded.priors.query_stats(e.query_vector)
    X = extract(e.intent, e.candidates, qp)[:, [FEATURES.index(f) for f in loaded.features]]
    each = [m.predict(X, num_threads=1) for m in members]
    # Different sampling seeds make different models; the artifact scores their mean.
    assert not np.allclose(each[0], each[1])
    np.testing.assert_allclose(loaded.model.predict(X), np.mean(each, axis=0))


def test_an_artifact_missing_a_member_says_so(artifact_dir, tmp_path):
    import shutil

    root, _ = artifact_dir
    shutil.copytree(root / "ltr-test", tmp_path / "ltr-test")
    (tmp_path / "ltr-test" / "model-2.txt").unlink()
    with pytest.raises(FileNotFoundError, match="model-2.txt"):
        RankerArtifact.load("ltr-test", tmp_path)


def test_train_ranker_refuses_an_empty_bag(capsys):
    from serving.cli import main

    assert main(["train-ranker", "--dialogs", "unused.jsonl", "--bag", "0"]) == 2
    assert "--bag must be at least 1, got 0" in capsys.readouterr().err


def test_train_params_refuse_an_empty_bag():
    with pytest.raises(ValueError, match="bag must be at least 1, got 0"):
        TrainParams(bag=0)


def test_an_open_request_gets_the_most_kept_tracks(artifact_dir):
    """"Hello" asks for nothing: the ranker serves what listeners kept most, not title matches."""
    from serving.intent.model import Intent

    root, examples = artifact_dir
    r = make_ranker(RankingConfig(version="ltr-test", artifacts_dir=str(root), max_per_artist=100),
                    embedder=HashEmbedder())
    e = examples[0]
    out = r.rank(Intent(search_text=""), e.candidates, 10)
    pa = r.prior_arrays
    pops = [pa.track_goal[r.table.key[r.table.row_of[t.track_id]]] for t in out]
    assert max(pops) == pa.track_goal.max() and min(pops) > 0
    assert all(t.reason == "one of the tracks listeners keep most" for t in out)
    # The search order (no sequencing) is popularity order.
    s = r.rank(Intent(search_text=""), e.candidates, 10, mode="search")
    ps = [pa.track_goal[r.table.key[r.table.row_of[t.track_id]]] for t in s]
    assert ps == sorted(ps, reverse=True)
    # A request with words is ranked by the model, as before.
    assert any(t.reason != "one of the tracks listeners keep most" for t in r.rank(e.intent, e.candidates, 10))


def test_training_leaves_out_open_requests(artifact_dir):
    """The model never scores a request that asks for nothing, so it does not learn from one."""
    from dataclasses import replace

    from serving.intent.model import Intent
    from serving.ranking.training import build_priors, matrix

    _, examples = artifact_dir
    priors = build_priors(examples)
    feats = TrainParams().features()
    _, y, groups = matrix(examples, priors, feats)
    i = next(j for j, e in enumerate(examples) if any(recording_key(c.track) in e.goal_keys for c in e.candidates))
    opened = list(examples)
    opened[i] = replace(examples[i], intent=Intent(search_text="hello"))
    _, y2, groups2 = matrix(opened, priors, feats)
    assert len(groups2) == len(groups) - 1 and len(y2) < len(y)
