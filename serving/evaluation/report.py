"""Markdown report and PNG chart for one evaluation run (several variants side by side)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from serving.evaluation.metrics import METRICS
from serving.evaluation.runner import VariantResult


def markdown(results: Sequence[VariantResult], title: str, source: str) -> str:
    lines = [f"# {title}", "", f"Dialogs: `{source}` (n = {results[0].n if results else 0}). "
             "Mean over dialogs with a 95% percentile-bootstrap interval over dialogs.", ""]
    head = "| variant | " + " | ".join(METRICS) + " | n | s | how |"
    lines += [head, "|" + "---|" * (len(METRICS) + 4)]
    for r in results:
        cells = [f"{r.summary[m].mean:.3f} [{r.summary[m].low:.3f}, {r.summary[m].high:.3f}]" for m in METRICS]
        lines.append(f"| {r.name} | " + " | ".join(cells) + f" | {r.n} | {r.seconds:.0f} | {r.note} |")
    if len(results) > 1:
        lines += ["", "Change against the first row (absolute):", "",
                  "| variant | " + " | ".join(f"Δ {m}" for m in METRICS) + " |", "|" + "---|" * (len(METRICS) + 1)]
        ref = results[0]
        for r in results[1:]:
            lines.append(f"| {r.name} | " + " | ".join(f"{r.summary[m].mean - ref.summary[m].mean:+.3f}" for m in METRICS) + " |")
    return "\n".join(lines) + "\n"


def chart(results: Sequence[VariantResult], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(METRICS), figsize=(4 * len(METRICS), 4.2))
    names = [r.name for r in results]
    colors = plt.get_cmap("tab10").colors
    for ax, m in zip(axes, METRICS):
        means = [r.summary[m].mean for r in results]
        err = [[r.summary[m].mean - r.summary[m].low for r in results], [r.summary[m].high - r.summary[m].mean for r in results]]
        ax.bar(range(len(results)), means, yerr=err, capsize=3, color=[colors[i % 10] for i in range(len(results))])
        ax.set_title(m)
        ax.set_xticks(range(len(results)))
        ax.set_xticklabels(names, rotation=35, ha="right", fontsize=8)
        ax.set_ylim(0, max(0.05, max(r.summary[m].high for r in results) * 1.15))
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write(results: Sequence[VariantResult], out_dir: str | Path, source: str, title: str = "Segue offline evaluation",
          coherence: Sequence = ()) -> dict[str, str]:
    from serving.evaluation import coherence as coh

    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    md = out / "report.md"
    text = ""
    paths: dict[str, str] = {"report": str(md)}
    if results:
        png = chart(results, out / "metrics.png", title)
        text = markdown(results, title, source) + f"\n![metrics]({png.name})\n"
        paths["chart"] = str(png)
    if coherence:
        text += ("\n" if text else f"# {title}\n\n") + coh.markdown(list(coherence))
        (out / "coherence.json").write_text(json.dumps(
            {c.name: {**c.summary(), "per_prompt": [vars(r) for r in c.rows]} for c in coherence}, indent=2))
    md.write_text(text)
    per_dialog = out / "per_dialog.jsonl"
    with per_dialog.open("w") as f:
        for r in results:
            for did, row in zip(r.dialog_ids, r.rows):
                f.write(json.dumps({"variant": r.name, "dialog": did, **row}) + "\n")
    (out / "summary.json").write_text(json.dumps({r.name: {**r.as_json(), "note": r.note} for r in results}, indent=2))
    return {**paths, "per_dialog": str(per_dialog)}
