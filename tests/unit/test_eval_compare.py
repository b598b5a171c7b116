"""`segue eval-compare`: paired per-dialog differences between two runs, from the rows they write."""

import json

import pytest

from serving.evaluation.compare import compare, fold_groups, load_rows, markdown


def _turn_run(path, name, rows_by_shard):
    path.mkdir(parents=True, exist_ok=True)
    n = len(rows_by_shard)
    for i, rows in enumerate(rows_by_shard, start=1):
        (path / f"turns-{name}-shard{i}of{n}.json").write_text(json.dumps(rows))
    return path


def test_turn_rows_are_merged_over_shards_and_each_dialog_is_the_mean_of_its_turns(tmp_path):
    d = _turn_run(tmp_path / "a", "session-default", [
        {"d1": [{"hit@20": 1.0, "hit@100": 1.0}, {"hit@20": 0.0, "hit@100": 1.0}]},
        {"d2": [{"hit@20": 0.0, "hit@100": 0.0}], "d3": []},  # a dialog with no scored turn is left out
    ])
    rows = load_rows(d)
    assert rows == {"d1": {"hit@20": 0.5, "hit@100": 1.0}, "d2": {"hit@20": 0.0, "hit@100": 0.0}}


def test_a_directory_with_several_runs_must_name_one(tmp_path):
    d = _turn_run(tmp_path / "a", "session-default", [{"d1": [{"hit@20": 1.0}]}])
    _turn_run(d, "naive-default", [{"d1": [{"hit@20": 0.0}]}])
    with pytest.raises(ValueError, match="naive-default, session-default: name one with --run-a"):
        load_rows(d)
    assert load_rows(d, "naive-default") == {"d1": {"hit@20": 0.0}}


def test_one_shot_rows_by_variant(tmp_path):
    (tmp_path / "per_dialog.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"variant": "default", "dialog": "d1", "hit@20": 1.0}, {"variant": "other", "dialog": "d1", "hit@20": 0.0}]))
    assert load_rows(tmp_path, "other") == {"d1": {"hit@20": 0.0}}
    with pytest.raises(ValueError, match="default, other"):
        load_rows(tmp_path)


def test_no_rows_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no per-dialog rows"):
        load_rows(tmp_path)


def test_a_consistent_small_gain_is_significant_paired_and_noise_is_not():
    a = {f"d{i}": {"m": float(i % 2)} for i in range(200)}
    better = {k: {"m": v["m"] + 0.01} for k, v in a.items()}  # every dialog +0.01
    noisy = {f"d{i}": {"m": float((i // 2) % 2)} for i in range(200)}  # same mean, shuffled
    gain = compare(a, better, ["m"])[0]
    assert gain.dialogs == 200 and gain.diff["m"].mean == pytest.approx(0.01) and gain.significant("m")
    same = compare(a, noisy, ["m"])[0]
    assert same.diff["m"].mean == pytest.approx(0.0) and not same.significant("m")
    assert "+0.0100 [+0.0100, +0.0100] *" in markdown([gain], ["m"], "A", "B")


def test_only_shared_dialogs_count_and_missing_metrics_are_named():
    a = {"d1": {"m": 0.0}, "d2": {"m": 1.0}}
    b = {"d2": {"m": 1.0}, "d3": {"m": 0.0}}
    assert compare(a, b, ["m"])[0].dialogs == 1
    with pytest.raises(ValueError, match=r"metric\(s\) \['x'\]"):
        compare(a, b, ["x"])
    with pytest.raises(ValueError, match="share no dialog"):
        compare({"d1": {"m": 0.0}}, {"d9": {"m": 0.0}}, ["m"])


def test_fold_groups_follow_the_cv_split():
    from serving.ranking.training import fold_of

    ids = [f"dialog-{i}" for i in range(50)]
    rows = {i: {"m": 1.0} for i in ids}
    out = compare(rows, rows, ["m"], fold_groups([0, 1], 5))
    assert [r.group for r in out] == ["all", "folds 0,1", "other folds"]
    assert out[1].dialogs == sum(fold_of(i, 5) in (0, 1) for i in ids)
    assert out[1].dialogs + out[2].dialogs == 50


@pytest.mark.parametrize("text", ["0,a", "9", "0,1,2,3,4", ""])
def test_tune_folds_name_some_folds_of_the_cv_never_all(text):
    from types import SimpleNamespace

    from serving.evaluation.commands import _tune_folds

    with pytest.raises(ValueError, match="--tune-folds takes fold numbers 0..4"):
        _tune_folds(SimpleNamespace(tune_folds=text, folds=5))
    assert _tune_folds(SimpleNamespace(tune_folds="1, 0", folds=5)) == {0, 1}
