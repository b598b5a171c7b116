"""Run a judge over served playlists and measure how well it agrees with CPCD ground truth.

Ground truth for a playlist of N shown tracks is how many recordings of the
listener's kept playlist it contains (precision@N) and its NDCG; a good judge's
scores rank playlists the same way (Spearman), and in pairwise mode it prefers
the playlist with more kept tracks.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from serving.catalog.loader import Catalog
from serving.evaluation.dialogs import EvalDialog, track_keys
from serving.evaluation.judging.base import Judge, PlaylistItem, pairwise
from serving.evaluation.metrics import distinct, ndcg_at


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Rank correlation with average ranks for ties; nan when either side is constant."""
    def ranks(v):
        v = np.asarray(v, dtype=np.float64)
        order = np.argsort(v, kind="mergesort")
        r = np.empty(len(v))
        r[order] = np.arange(len(v))
        for val in np.unique(v):
            m = v == val
            r[m] = r[m].mean()
        return r

    if len(x) < 3:
        return float("nan")
    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


@dataclass
class JudgeRun:
    catalog: Catalog
    length: int = 20
    concurrency: int = 4

    def __post_init__(self) -> None:
        self._by_id = {t.track_id: t for t in self.catalog.tracks}
        self._keys = track_keys(self.catalog)

    def items(self, track_ids: list[str]) -> list[PlaylistItem]:
        out = []
        for tid in track_ids[: self.length]:
            t = self._by_id.get(tid)
            if t is not None:
                out.append(PlaylistItem(title=t.title, artists=list(t.artists), album=t.album))
        return out

    def truth(self, d: EvalDialog, track_ids: list[str]) -> dict[str, float]:
        keys = distinct(self._keys.get(t, f"id:{t}") for t in track_ids[: self.length])
        hits = sum(1 for k in keys if k in d.gold_keys)
        return {"precision": hits / max(1, len(keys)), "ndcg": ndcg_at(keys, d.gold_keys, self.length), "hits": hits}

    async def pointwise(self, judge: Judge, dialogs: list[EvalDialog], ranked: dict[str, list[str]]) -> list[dict]:
        sem = asyncio.Semaphore(self.concurrency)

        async def one(d: EvalDialog) -> dict:
            async with sem:
                v = await judge.score(d.prompt, self.items(ranked[d.id]))
            return {"dialog": d.id, **v.model_dump(), **self.truth(d, ranked[d.id])}

        return list(await asyncio.gather(*(one(d) for d in dialogs)))

    async def pairwise(self, judge: Judge, dialogs: list[EvalDialog], ranked_a: dict[str, list[str]],
                       ranked_b: dict[str, list[str]]) -> list[dict]:
        sem = asyncio.Semaphore(self.concurrency)

        async def one(d: EvalDialog) -> dict:
            async with sem:
                res = await pairwise(judge, d.prompt, self.items(ranked_a[d.id]), self.items(ranked_b[d.id]))
            ta, tb = self.truth(d, ranked_a[d.id]), self.truth(d, ranked_b[d.id])
            gt = "tie" if ta["hits"] == tb["hits"] else ("first" if ta["hits"] > tb["hits"] else "second")
            return {"dialog": d.id, "judge": res.winner, "consistent": res.consistent,
                    "shown_first_wins": res.shown_first_wins, "truth": gt, "hits_a": ta["hits"], "hits_b": tb["hits"]}

        return list(await asyncio.gather(*(one(d) for d in dialogs)))


def pointwise_agreement(rows: list[dict]) -> dict[str, float]:
    overall = [r["overall"] for r in rows]
    fulfil = [r["fulfilment"] for r in rows]
    return {
        "n": len(rows),
        "spearman_overall_vs_precision": spearman(overall, [r["precision"] for r in rows]),
        "spearman_overall_vs_ndcg": spearman(overall, [r["ndcg"] for r in rows]),
        "spearman_fulfilment_vs_precision": spearman(fulfil, [r["precision"] for r in rows]),
        "mean_overall": float(np.mean(overall)) if rows else float("nan"),
    }


def pairwise_agreement(rows: list[dict]) -> dict[str, float]:
    decided = [r for r in rows if r["truth"] != "tie"]
    judged = [r for r in decided if r["judge"] != "tie"]
    calls = 2 * len(rows)
    return {
        "n": len(rows),
        "truth_decided": len(decided),
        "judge_decided_of_those": len(judged),
        "agreement_when_both_decide": (sum(r["judge"] == r["truth"] for r in judged) / len(judged)) if judged else float("nan"),
        "consistency_under_swap": sum(r["consistent"] for r in rows) / len(rows) if rows else float("nan"),
        "shown_first_pick_rate": sum(r["shown_first_wins"] for r in rows) / calls if calls else float("nan"),
        "first_wins": sum(r["judge"] == "first" for r in rows),
        "second_wins": sum(r["judge"] == "second" for r in rows),
        "ties": sum(r["judge"] == "tie" for r in rows),
    }
