"""`segue eval-compare A B`: is run B better than run A on the same dialogs, or only different?

Two evaluation runs of one protocol score the same dialogs, so the honest comparison is
paired: per dialog, B's metric minus A's, and a bootstrap interval over dialogs of the mean
difference. Side-by-side point estimates are not enough here: a run whose fold models were
retrained after a small upstream change moved one group of CPCD folds by +0.023 hit@20 and
another by -0.008 (docs/quality.md, session 5), and unpaired intervals of two runs overlap
even where the paired difference is clear.

Inputs are the per-dialog rows the evaluations already write: the turn replay's shard files
(`turns-<system>-<variant>-shard<i>of<n>.json`: dialog -> its scored turns; a dialog counts
as the mean over its turns, CPCD's macro) or the one-shot `per_dialog.jsonl` (one row per
variant and dialog). Pure: no Ray, no models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from serving.evaluation.metrics import Estimate, bootstrap_ci


def load_rows(directory: str | Path, run: str | None = None) -> dict[str, dict[str, float]]:
    """dialog id -> metric -> value, from one evaluation's output directory. `run` picks one
    run where the directory holds several: "<system>-<variant>" for the turn replay
    ("session-default"), the variant name for the one-shot evaluation."""
    d = Path(directory).expanduser()
    shards = sorted(d.glob("turns-*-shard*of*.json"))
    if shards:
        names = sorted({p.name[len("turns-"):].rsplit("-shard", 1)[0] for p in shards})
        pick = _pick(run, names, d)
        turns: dict[str, list[dict[str, float]]] = {}
        for p in shards:
            if p.name.startswith(f"turns-{pick}-shard"):
                turns.update(json.loads(p.read_text()))
        return {did: _mean(rows) for did, rows in turns.items() if rows}
    one_shot = d / "per_dialog.jsonl"
    if one_shot.is_file():
        rows = [json.loads(line) for line in one_shot.read_text().splitlines() if line.strip()]
        pick = _pick(run, sorted({r["variant"] for r in rows}), one_shot)
        return {r["dialog"]: {k: v for k, v in r.items() if isinstance(v, (int, float))}
                for r in rows if r["variant"] == pick}
    raise ValueError(f"{d} has no per-dialog rows: give the directory a `segue eval ... --out` wrote")


def _pick(run: str | None, names: list[str], where: Path) -> str:
    if run is None and len(names) == 1:
        return names[0]
    if run in names:
        return run
    raise ValueError(f"{where} holds the runs {', '.join(names)}: name one with --run-a / --run-b")


def _mean(turn_rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in turn_rows])) for k in turn_rows[0]}


@dataclass(frozen=True)
class Comparison:
    group: str
    dialogs: int
    a: dict[str, float]
    b: dict[str, float]
    diff: dict[str, Estimate]  # B - A, mean over dialogs with its bootstrap interval

    def significant(self, metric: str) -> bool:
        e = self.diff[metric]
        return e.low > 0 or e.high < 0


def compare(a: dict[str, dict[str, float]], b: dict[str, dict[str, float]], metrics: Sequence[str],
            groups: dict[str, Callable[[str], bool]] | None = None, n_boot: int = 2000,
            seed: int = 0) -> list[Comparison]:
    """Paired differences over the dialogs both runs scored, per group of dialogs."""
    both = sorted(set(a) & set(b))
    if not both:
        raise ValueError("the two runs share no dialog: were they run on the same dialogs file?")
    missing = [m for m in metrics if m not in a[both[0]] or m not in b[both[0]]]
    if missing:
        raise ValueError(f"metric(s) {missing} not in both runs' rows (they have {sorted(a[both[0]])})")
    out = []
    for name, keep in (groups or {"all": lambda _: True}).items():
        ids = [i for i in both if keep(i)]
        if not ids:
            continue
        out.append(Comparison(
            name, len(ids),
            {m: float(np.mean([a[i][m] for i in ids])) for m in metrics},
            {m: float(np.mean([b[i][m] for i in ids])) for m in metrics},
            {m: bootstrap_ci([b[i][m] - a[i][m] for i in ids], n_boot=n_boot, seed=seed) for m in metrics}))
    return out


def fold_groups(folds: Sequence[int], n_folds: int, seed: int = 0) -> dict[str, Callable[[str], bool]]:
    """all dialogs, those of `folds` (e.g. the tuning folds) and the rest, by the CV's own split."""
    from serving.ranking.training import fold_of

    chosen = frozenset(folds)
    label = ",".join(map(str, sorted(chosen)))
    return {"all": lambda _: True,
            f"folds {label}": lambda i: fold_of(i, n_folds, seed) in chosen,
            "other folds": lambda i: fold_of(i, n_folds, seed) not in chosen}


def markdown(rows: list[Comparison], metrics: Sequence[str], a_name: str, b_name: str) -> str:
    head = "| dialogs | n | " + " | ".join(f"{m}: A -> B, B - A [95% CI]" for m in metrics) + " |"
    lines = [f"A = {a_name}", f"B = {b_name}", "", head, "|" + "---|" * (2 + len(metrics))]
    for r in rows:
        cells = []
        for m in metrics:
            e = r.diff[m]
            mark = " *" if r.significant(m) else ""
            cells.append(f"{r.a[m]:.3f} -> {r.b[m]:.3f}, {e.mean:+.4f} [{e.low:+.4f}, {e.high:+.4f}]{mark}")
        lines.append(f"| {r.group} | {r.dialogs} | " + " | ".join(cells) + " |")
    lines += ["", "* the interval excludes 0 (paired percentile bootstrap over dialogs)"]
    return "\n".join(lines)
