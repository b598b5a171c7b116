"""`segue eval --turns all` must never let a held-out dialog reach what serves it: the learned
ranker, its priors and the enrichment of each fold are all built without that fold."""

import pytest

from serving.catalog.loader import load_catalog
from serving.config import AppConfig
from serving.evaluation import turn_runner
from serving.evaluation.dialogs import load_dialogs
from serving.evaluation.runner import Evaluator, Variant
from serving.evaluation.turn_runner import TurnEvaluator, TurnSystem
from serving.ranking.training import TrainParams, folds
from tests.quality_fakes import HashEmbedder, write_tiny_cpcd

SMALL = TrainParams(n_estimators=20, min_data_in_leaf=5, num_leaves=7)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cpcd")
    cat_path, dl_path = write_tiny_cpcd(root)
    # The enrichment learns from the very dialogs the evaluation replays.
    cfg = AppConfig.from_dict({"catalog": {"path": str(cat_path), "enrichment_dialogs": str(dl_path)},
                               "retrieval": {"cache_dir": str(root / "cache"), "top_k": 30},
                               "ranking": {"version": "ltr-test", "artifacts_dir": str(root / "artifacts")}})
    dialogs, _ = load_dialogs(dl_path, load_catalog(cat_path))
    ev = Evaluator(dialogs, catalog_path=str(cat_path), length=20, n_folds=3, progress=False, n_boot=50,
                   embedder_factory=lambda c: HashEmbedder())
    return ev, Variant("ltr", cfg, train=SMALL)


class Probe(TurnSystem):
    """Records, per dialog, the enrichment its retriever and its ranker serve it with."""

    seen: dict = {}

    def __init__(self, stages, config):
        self.stages = stages

    async def dialog(self, turns, length):
        Probe.seen[turns[0].dialog_id] = (self.stages.retriever.enrichment,
                                          getattr(self.stages.ranker, "enrichment", None))
        return [[] for _ in turns]


@pytest.mark.parametrize("ranker", ["ltr-test", "baseline-v1"])
def test_every_replayed_dialog_is_served_by_an_enrichment_built_without_its_fold(setup, monkeypatch, ranker):
    """ltr: the fold rankers' folds; a rule-based ranker: no training, the same folds for the enrichment."""
    ev, variant = setup
    cfg = variant.config
    variant = Variant(ranker, cfg.model_copy(update={"ranking": cfg.ranking.model_copy(update={"version": ranker})}),
                      train=SMALL)
    monkeypatch.setattr(ev, "cv", "always")
    monkeypatch.setitem(turn_runner.SYSTEMS, "probe", Probe)
    Probe.seen = {}
    shipped = ev._retriever(ev._config(variant.config)).enrichment
    assert shipped is not None
    res = turn_runner.TurnEvaluator(ev, length=20).run("probe", variant)

    assert "enrichment cross-validated" in res.note
    assert set(Probe.seen) == {d.id for d in ev.dialogs}
    held_out_of = {id(enr): set(key[1]) for key, enr in ev._fold_enr.items()}
    test_sets = [{ev.dialogs[j].id for j in test} for _, test in folds([d.id for d in ev.dialogs], 3, 0)]
    for did, (retr_enr, rank_enr) in Probe.seen.items():
        assert retr_enr is not shipped
        if ranker.startswith("ltr-"):
            assert rank_enr is retr_enr  # the learned ranker's borrowed candidates obey the same fold
        held_out = held_out_of[id(retr_enr)]
        assert did in held_out and held_out in test_sets
    # ...and the shipped enrichment serves again after the replay.
    assert ev._retriever(ev._config(variant.config)).enrichment is shipped


def test_a_shard_still_holds_out_the_whole_fold(setup, monkeypatch):
    ev, variant = setup
    monkeypatch.setattr(ev, "cv", "always")
    monkeypatch.setitem(turn_runner.SYSTEMS, "probe", Probe)
    Probe.seen = {}
    TurnEvaluator(ev, length=20, shard=(2, 3)).run("probe", variant)
    ids = [d.id for d in ev.dialogs]
    assert set(Probe.seen) == {ids[j] for j in range(len(ids)) if j % 3 == 1}
    test_sets = [{ids[j] for j in test} for _, test in folds(ids, 3, 0)]
    held_out_of = {id(enr): set(key[1]) for key, enr in ev._fold_enr.items()}
    for did, (enr, _) in Probe.seen.items():
        assert held_out_of[id(enr)] in test_sets and did in held_out_of[id(enr)]


def test_training_examples_of_each_fold_are_retrieved_with_an_enrichment_built_without_it(setup, monkeypatch):
    """A second-order leak: the fold ranker's training candidates, retrieved under the shipped
    enrichment (built from every dialog), would be filtered by what the held-out playlists taught it."""
    ev, variant = setup
    variant = Variant("ltr-other", variant.config, train=TrainParams(n_estimators=21, min_data_in_leaf=5, num_leaves=7))
    monkeypatch.setattr(ev, "cv", "always")
    shipped = ev._retriever(ev._config(variant.config)).enrichment
    calls = []
    real = ev.examples

    async def examples(v, dialogs=None):
        calls.append(({d.id for d in dialogs}, ev._retriever(ev._config(v.config)).enrichment))
        return await real(v, dialogs)

    monkeypatch.setattr(ev, "examples", examples)
    import asyncio

    asyncio.run(TurnEvaluator(ev, length=20).fold_rankers(variant))
    ids = [d.id for d in ev.dialogs]
    splits = folds(ids, 3, 0)
    held_out_of = {id(enr): set(key[1]) for key, enr in ev._fold_enr.items()}
    assert len(calls) == len(splits)
    for (train_ids, enr), (train, test) in zip(calls, splits):
        assert train_ids == {ids[j] for j in train}
        assert enr is not shipped and held_out_of[id(enr)] == {ids[j] for j in test}


def test_fold_models_are_retrained_when_the_code_that_makes_them_changes(tmp_path):
    # The on-disk fold-model cache is keyed by the training code: new retrieval code, new models.
    from serving.evaluation.turn_runner import TRAINING_CODE, code_version, training_code_version

    (tmp_path / "serving" / "retrieval").mkdir(parents=True)
    f = tmp_path / "serving" / "retrieval" / "filters.py"
    f.write_text("A = 1\n")
    before = code_version(tmp_path, TRAINING_CODE)
    f.write_text("A = 2\n")
    after = code_version(tmp_path, TRAINING_CODE)
    assert after != before
    (tmp_path / "serving" / "retrieval" / "notes.txt").write_text("not code")
    assert code_version(tmp_path, TRAINING_CODE) == after
    assert len(training_code_version()) == 16 and "serving/ranking" in TRAINING_CODE
