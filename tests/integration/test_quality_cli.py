"""`segue eval` and `segue train-ranker` end to end on a tiny CPCD-format dataset (real embedder, no Ray)."""

import json

import pytest
import yaml

from serving.cli import main
from tests.quality_fakes import write_tiny_cpcd

KEYS = {"hit@20", "hit@100", "recall@50", "ndcg@20", "n"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("cpcd")
    cat, dialogs = write_tiny_cpcd(root)
    base = {"catalog": {"path": str(cat)}, "retrieval": {"cache_dir": str(root / "cache"), "top_k": 40,
                                                         "hybrid": {"enabled": True}},
            "ranking": {"version": "baseline-v1", "artifacts_dir": str(root / "artifacts")}}
    (root / "baseline.yaml").write_text(yaml.safe_dump(base))
    ltr = {**base, "ranking": {**base["ranking"], "version": "ltr-tiny"}}
    (root / "ltr.yaml").write_text(yaml.safe_dump(ltr))
    return root, dialogs


def _json(capsys) -> dict:
    out = capsys.readouterr().out.strip().splitlines()
    return json.loads(out[-1])


def test_eval_json_has_exactly_the_metric_keys(tiny, capsys):
    root, dialogs = tiny
    assert main(["eval", "--dialogs", str(dialogs), "--config", str(root / "baseline.yaml"), "--json", "--quiet"]) == 0
    got = _json(capsys)
    assert set(got) == KEYS
    assert got["n"] == 24  # the empty-goal dialog is skipped
    assert got["hit@100"] > 0.5  # genre words are in the titles: an easy set


def test_train_ranker_writes_a_versioned_artifact_and_eval_uses_it(tiny, capsys):
    root, dialogs = tiny
    assert main(["train-ranker", "--dialogs", str(dialogs), "--config", str(root / "baseline.yaml"), "--version", "ltr-tiny",
                 "--out", str(root / "artifacts"), "--folds", "2", "--trees", "20", "--quiet"]) == 0
    info = _json(capsys)
    meta = json.loads((root / "artifacts" / "ltr-tiny" / "meta.json").read_text())
    assert meta["version"] == "ltr-tiny" and meta["n_dialogs"] == 24 and meta["cross_validation"]["folds"] == 2
    assert set(meta["cross_validation"]) >= KEYS
    assert info["artifact"].endswith("ltr-tiny")

    # Same dialogs the artifact was trained on: auto mode must cross-validate, not reuse the artifact.
    assert main(["eval", "--dialogs", str(dialogs), "--config", str(root / "ltr.yaml"), "--json", "--quiet", "--folds", "3"]) == 0
    assert set(_json(capsys)) == KEYS
    assert main(["eval", "--dialogs", str(dialogs), "--config", str(root / "ltr.yaml"), "--cv", "never", "--limit", "6"]) == 0
    report = capsys.readouterr().out
    assert "shipped artifact ltr-tiny" in report


def test_ablation_report_and_chart(tiny, tmp_path, capsys):
    root, dialogs = tiny
    out = tmp_path / "report"
    assert main(["eval", "--dialogs", str(dialogs), "--config", str(root / "ltr.yaml"), "--ablation", "--folds", "2",
                 "--out", str(out), "--quiet"]) == 0
    md = (out / "report.md").read_text()
    for row in ("dense only", "+ intent parser", "+ hybrid BM25", "+ learned ranker, no priors", "+ priors as features",
                "+ priors' candidates", "+ enrichment filters, like-X (full)"):
        assert row in md
    assert (out / "metrics.png").read_bytes()[:4] == b"\x89PNG"
    assert len((out / "per_dialog.jsonl").read_text().splitlines()) == 24 * 7  # the config row equals the full row


def test_eval_rejects_a_file_in_another_format(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "x"}\n')
    assert main(["eval", "--dialogs", str(bad), "--json"]) == 2
    assert "CPCD format" in capsys.readouterr().err
