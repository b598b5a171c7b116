"""Markdown tables for the turn-by-turn evaluation, with CPCD's published numbers beside Segue's."""

from __future__ import annotations

from typing import Sequence

# Published by the CPCD authors (scores/*.csv in github.com/google-research-datasets/cpcd): macro
# over all turns under the same protocol, but on their dev/test splits, not this train file.
PUBLISHED = [
    ("CPCD paper: hybrid (dev)", {"hit@100": 0.589, "recall@100": 0.163}),
    ("CPCD paper: hybrid (test)", {"hit@100": 0.571, "recall@100": 0.155}),
    ("CPCD paper: contriever-cpcd (test)", {"hit@10": 0.275}),
]

HEAD = ("hit@1", "hit@10", "hit@20", "hit@100", "recall@20", "recall@100", "mrr@100")


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def markdown_turns(results: Sequence, source: str, published: bool = True) -> str:
    lines = [f"### Turn-by-turn (CPCD protocol) on {source}", "",
             "| system | dialogs | turns | " + " | ".join(f"macro {m}" for m in HEAD) + " | micro hit@100 |",
             "|---|---|---|" + "---|" * (len(HEAD) + 1)]
    for r in results:
        s = r.summary
        lines.append(f"| {r.system} | {s.dialogs} | {s.turns} | " + " | ".join(_f(s.macro.get(m)) for m in HEAD)
                     + f" | {_f(s.micro.get('hit@100'))} |")
    if published:
        for name, vals in PUBLISHED:
            lines.append(f"| {name} | - | - | " + " | ".join(_f(vals.get(m)) for m in HEAD) + " | - |")
    if results:
        n_turns = len(results[0].summary.per_turn_counts)
        lines += ["", "Per turn: hit@20 / hit@100 / recall@100 (n = dialogs scored at that turn)", "",
                  "| system | " + " | ".join(f"turn {i}" for i in range(n_turns)) + " |",
                  "|---|" + "---|" * n_turns]
        for r in results:
            s = r.summary
            cells = [f"{s.per_turn['hit@20'][i]:.2f} / {s.per_turn['hit@100'][i]:.2f} / "
                     f"{s.per_turn['recall@100'][i]:.2f} (n={n})" if n else "-"
                     for i, n in enumerate(s.per_turn_counts)]
            lines.append(f"| {r.system} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
