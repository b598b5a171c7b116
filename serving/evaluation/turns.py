"""CPCD's official turn-by-turn protocol: what the system may see at each turn, and the scores.

The semantics follow the CPCD repository's `eval.py` and `metrics.py`
(github.com/google-research-datasets/cpcd, commit fcf13a6), implemented here
from their meaning, not copied:

- at turn t the system sees the user's messages of turns 0..t and, as feedback,
  only the *seed* tracks -- the first 3 liked tracks of every earlier turn (turn 0
  has none) -- and, in Segue's sessions, the earlier turns' disliked tracks. The
  other liked tracks stay in the gold: giving them would leak the answer;
- gold is the dialog's whole `goal_playlist` at every turn;
- predictions, gold and seeds are mapped to cluster ids and de-duplicated (first
  occurrence wins); the seeds of turns 0..t are removed from both predictions and
  gold; a turn whose gold is then empty is skipped;
- hit, recall, precision, MRR and MAP at k in (1, 5, 10, 20, 100);
- macro = mean over dialogs of each dialog's mean over its scored turns; micro =
  mean over all scored turns; per turn = mean over dialogs of the i-th scored turn
  (the first 10 turns are reported).

Cluster ids: the official tracks file gives every track one; Segue's catalog has the
cluster id where CPCD knows it, else `recording_key` (normalised title + first artist).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

K_VALUES = (1, 5, 10, 20, 100)
METRICS = ("hit", "recall", "precision", "mrr", "map")
MAX_TURNS = 10
N_SEEDS = 3


@dataclass(frozen=True)
class TurnInput:
    """Everything the protocol lets a system see at one turn."""

    dialog_id: str
    turn: int
    messages: tuple[str, ...]  # user messages of turns 0..turn
    seeds: tuple[str, ...]  # track ids: first N_SEEDS liked of each earlier turn, in turn order
    disliked: tuple[str, ...]  # track ids disliked in earlier turns
    new_seeds: tuple[str, ...] = ()  # the seeds of the previous turn only (what a session gets as `liked` now)
    new_disliked: tuple[str, ...] = ()  # the previous turn's dislikes only

    @property
    def joined_prompt(self) -> str:
        """The naive baseline's prompt: every message so far, in order."""
        return " ".join(m.strip() for m in self.messages if m.strip())


def seed_tracks(turns: Sequence[dict], n: int = N_SEEDS) -> list[list[str]]:
    """Per turn, the seeds that become visible at that turn: [] for turn 0, then the
    first n liked tracks of the previous turn (eval.py's get_seed_tracks)."""
    out: list[list[str]] = [[]]
    for t in turns[:-1]:
        out.append(list(t.get("liked_results") or [])[:n])
    return out[: len(turns)] if turns else []


def turn_inputs(dialog: dict, n_seeds: int = N_SEEDS) -> list[TurnInput]:
    turns = dialog.get("turns") or []
    seeds = seed_tracks(turns, n_seeds)
    did = str(dialog.get("id"))
    out: list[TurnInput] = []
    messages: list[str] = []
    seen: list[str] = []
    disliked: list[str] = []
    for t, turn in enumerate(turns):
        messages.append(str(turn.get("user_query") or ""))
        seen.extend(seeds[t])
        prev_disliked = list(turns[t - 1].get("disliked_results") or []) if t > 0 else []
        disliked.extend(prev_disliked)
        out.append(TurnInput(did, t, tuple(messages), tuple(seen), tuple(disliked),
                             new_seeds=tuple(seeds[t]), new_disliked=tuple(prev_disliked)))
    return out


def to_clusters(track_ids: Iterable[str], cluster_of: Callable[[str], str]) -> list[str]:
    """Track ids -> cluster ids, de-duplicated, order kept (eval.py's convert_to_cluster_ids)."""
    seen: set[str] = set()
    out = []
    for tid in track_ids:
        c = cluster_of(tid)
        if c not in seen:
            seen.add(c)
            out.append(c)
    return out


def metrics_at(preds: Sequence[str], gold: Sequence[str], k_values: Sequence[int] = K_VALUES) -> dict[str, float]:
    """metrics.py's definitions; `preds` and `gold` are distinct cluster ids. A short
    prediction list is scored as it is (eval.py refuses lists shorter than max k)."""
    g = set(gold)
    out: dict[str, float] = {}
    for k in k_values:
        top = list(preds[:k])
        hits = [p in g for p in top]
        n_hit = sum(hits)
        out[f"hit@{k}"] = float(n_hit > 0)
        out[f"recall@{k}"] = n_hit / len(g)
        out[f"precision@{k}"] = n_hit / len(top) if top else 0.0
        out[f"mrr@{k}"] = next((1.0 / i for i, h in enumerate(hits, start=1) if h), 0.0)
        ap, seen_hits = 0.0, 0
        for i, h in enumerate(hits, start=1):
            if h:
                seen_hits += 1
                ap += seen_hits / i
        denom = min(len(g), len(top))
        out[f"map@{k}"] = ap / denom if denom else 0.0
    return out


def dialog_turn_metrics(preds_per_turn: Sequence[Sequence[str]], gold: Sequence[str],
                        seeds_per_turn: Sequence[Sequence[str]],
                        k_values: Sequence[int] = K_VALUES) -> list[dict[str, float]]:
    """One dialog: the scored turns' metrics, in turn order (eval.py's compute_metrics_per_turn).
    All inputs are cluster ids; seeds accumulate over turns and leave preds and gold."""
    rows = []
    removed: set[str] = set()
    for preds, seeds in zip(preds_per_turn, seeds_per_turn):
        removed.update(seeds)
        p = [x for x in preds if x not in removed]
        g = [x for x in gold if x not in removed]
        if not g:
            continue
        rows.append(metrics_at(p, g, k_values))
    return rows


@dataclass
class _Mean:
    total: float = 0.0
    count: int = 0

    def add(self, v: float) -> None:
        self.total += v
        self.count += 1

    @property
    def value(self) -> float:
        return self.total / self.count if self.count else 0.0


@dataclass
class TurnSummary:
    """Macro, micro and per-turn means of every metric over a set of dialogs."""

    macro: dict[str, float]
    micro: dict[str, float]
    per_turn: dict[str, list[float]]
    dialogs: int
    turns: int
    per_turn_counts: list[int] = field(default_factory=list)

    def row(self, metrics: Sequence[str] = ("hit@20", "hit@100", "recall@100")) -> dict[str, float]:
        return {m: round(self.macro[m], 4) for m in metrics}


def summarise_turns(per_dialog: Sequence[list[dict[str, float]]], max_turns: int = MAX_TURNS) -> TurnSummary:
    """eval.py's score_dataset: dialogs without a scored turn do not count."""
    macro: dict[str, _Mean] = defaultdict(_Mean)
    micro: dict[str, _Mean] = defaultdict(_Mean)
    per_turn: dict[str, list[_Mean]] = defaultdict(lambda: [_Mean() for _ in range(max_turns)])
    n_dialogs = n_turns = 0
    counts = [0] * max_turns
    for rows in per_dialog:
        if not rows:
            continue
        n_dialogs += 1
        n_turns += len(rows)
        for i in range(min(len(rows), max_turns)):
            counts[i] += 1
        for m in rows[0]:
            vals = [r[m] for r in rows]
            macro[m].add(sum(vals) / len(vals))
            for i, v in enumerate(vals):
                micro[m].add(v)
                if i < max_turns:
                    per_turn[m][i].add(v)
    return TurnSummary(
        macro={m: v.value for m, v in macro.items()},
        micro={m: v.value for m, v in micro.items()},
        per_turn={m: [x.value for x in v] for m, v in per_turn.items()},
        dialogs=n_dialogs, turns=n_turns, per_turn_counts=counts,
    )
