"""The learned ranker's training must never let a dialog's own goal reach its features."""

import asyncio

import numpy as np
import pytest

from serving.config import AppConfig
from serving.evaluation import runner as runner_mod
from serving.evaluation.dialogs import load_dialogs
from serving.evaluation.runner import Evaluator, Variant
from serving.catalog.loader import load_catalog
from serving.ranking.features import FEATURES, extract
from serving.ranking.training import TrainParams, build_priors, fit, fold_of, folds, matrix
from tests.quality_fakes import HashEmbedder, write_tiny_cpcd

SMALL = TrainParams(n_estimators=20, min_data_in_leaf=5, num_leaves=7)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cpcd")
    cat_path, dl_path = write_tiny_cpcd(root)
    cfg = AppConfig.from_dict({"catalog": {"path": str(cat_path)}, "retrieval": {"cache_dir": str(root / "cache"), "top_k": 30},
                               "ranking": {"version": "ltr-test", "artifacts_dir": str(root / "artifacts")}})
    dialogs, _ = load_dialogs(dl_path, load_catalog(cat_path))
    ev = Evaluator(dialogs, catalog_path=str(cat_path), length=20, n_folds=3, progress=False, n_boot=50,
                   embedder_factory=lambda c: HashEmbedder())
    variant = Variant("ltr", cfg, train=SMALL)
    examples = asyncio.run(ev.examples(variant))
    return ev, variant, examples


def test_folds_partition_the_dialogs_stably():
    ids = [f"d{i}" for i in range(50)]
    fs = folds(ids, 5)
    tests = [set(t) for _, t in fs]
    assert set().union(*tests) == set(range(50))
    assert sum(len(t) for t in tests) == 50
    for train, test in fs:
        assert not set(train) & set(test)
    assert fold_of("d7", 5) == fold_of("d7", 5)
    with pytest.raises(ValueError, match="at least 2 folds"):
        folds(ids, 1)


def test_leave_one_out_features_equal_priors_built_without_the_dialog(setup):
    _, _, examples = setup
    priors = build_priors(examples)
    cols = list(FEATURES)
    for j in (0, 5, 11):
        e = examples[j]
        loo = extract(e.intent, e.candidates, priors.query_stats(e.query_vector, exclude=priors.position(e.id)))
        others = build_priors([x for x in examples if x.id != e.id])
        clean = extract(e.intent, e.candidates, others.query_stats(e.query_vector))
        assert np.allclose(loo, clean), [c for c, a, b in zip(cols, loo.T, clean.T) if not np.allclose(a, b)]
        # ...and the leak is real: with its own goal counted, the gold tracks' priors differ.
        leaky = extract(e.intent, e.candidates, priors.query_stats(e.query_vector))
        pos = e.labels > 0
        if pos.any():
            assert not np.allclose(leaky[pos], clean[pos])


def test_features_of_held_out_dialog_do_not_depend_on_its_goal(setup):
    _, _, examples = setup
    held, rest = examples[0], examples[1:]
    art = fit(rest, "ltr-fold", "hash-v1", SMALL)
    assert held.id not in art.priors.dialog_ids
    before = extract(held.intent, held.candidates, art.priors.query_stats(held.query_vector))
    changed = type(held)(held.id, held.intent, held.candidates, held.query_vector, frozenset({"t:other|x"}))
    after = extract(changed.intent, changed.candidates, art.priors.query_stats(changed.query_vector))
    assert np.array_equal(before, after)


def test_cross_validation_trains_each_fold_without_its_test_dialogs(setup, monkeypatch):
    ev, variant, _ = setup
    calls = []
    real_fit = runner_mod.fit

    def spy(examples, version, *a, **k):
        calls.append({e.id for e in examples})
        return real_fit(examples, version, *a, **k)

    monkeypatch.setattr(runner_mod, "fit", spy)
    result = ev.run(variant)
    assert len(calls) == 3 and result.n == len(ev.dialogs)
    splits = folds([d.id for d in ev.dialogs], 3)
    for trained_on, (_, test) in zip(calls, splits):
        assert not trained_on & {ev.dialogs[j].id for j in test}
    assert "cross-validated" in result.note


def test_matrix_groups_and_labels(setup):
    _, _, examples = setup
    X, y, groups = matrix(examples, build_priors(examples), SMALL.features())
    assert X.shape == (sum(groups), len(FEATURES))
    assert set(np.unique(y)) <= {0.0, 1.0} and y.sum() > 0
    no_priors = TrainParams(use_priors=False).features()
    assert "knn_track" not in no_priors and "dense" in no_priors


def test_expansion_with_leave_one_out_equals_expansion_without_the_dialog(setup):
    from serving.ranking.diversity import recording_key
    from serving.ranking.priors import expand_candidates

    _, _, examples = setup
    priors = build_priors(examples)
    for j in (1, 7):
        e = examples[j]
        loo = expand_candidates(e.candidates[:5], priors.query_stats(e.query_vector, exclude=priors.position(e.id)),
                                e.intent, recording_key, limit=1000, popular=1000)
        clean = expand_candidates(e.candidates[:5], build_priors([x for x in examples if x.id != e.id]).query_stats(e.query_vector),
                                  e.intent, recording_key, limit=1000, popular=1000)
        key = lambda c: recording_key(c.track)  # noqa: E731
        assert sorted(map(key, loo)) == sorted(map(key, clean))
        assert all(c.retrieval_rank == -1 for c in loo[5:])


def test_expansion_respects_intent_exclusions(setup):
    from serving.ranking.diversity import recording_key
    from serving.ranking.priors import expand_candidates

    _, _, examples = setup
    priors = build_priors(examples)
    e = examples[0]
    banned = e.intent.model_copy(update={"exclude_artists": ["The Jazz Band 0", "The Jazz Band 1", "The Jazz Band 2"]})
    out = expand_candidates([], priors.query_stats(e.query_vector), banned, recording_key, limit=50, popular=50)
    assert out and not any(c.track.artists[0].startswith("The Jazz Band") for c in out)
