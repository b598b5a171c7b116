"""Off-genre rate of "songs like X" over many artists at once (a measurement tool, never the
serving path): for each of the first N artists (alphabetically) of the evaluation-only label table
that the catalog holds, the in-process pipeline answers "songs like X" with 20 tracks, and a
labelled track is off when none of its artist's families is one of X's. Printed overall and by
how much the enrichment knows X (its genre confidence, and whether listeners spoke of it).

    python -m serving.tools.like_sweep [--artists 400] [--start 0] [--config F] [--json]

The first 400 artists (a..ne yo) are the sweep the team reads; `--start 400 --artists 236` (the
rest, nelly..z) was kept for measuring once, unread (docs/quality.md, sixteenth round). Beside the
off rate it prints what off-genre cannot see: the share of a playlist that is X itself, the
largest share any one artist holds, and how many playlists came back shorter than 20 (a "like X"
playlist ends with its head: `filters.LIKE_HEAD_ONLY`).

The hand-written coherence sets hold 13-30 such prompts each; this holds hundreds, so a change to
"like X" is measured on artists nobody chose. X's families stand in for what a listener accepts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter

from serving.config import load_config
from serving.evaluation.coherence import load_labels
from serving.pipeline import InProcessStages, Pipeline
from serving.schemas import PlaylistRequest, RequestContext
from serving.text import norm

BUCKETS = ((0.3, "< 0.3"), (1.0, "0.3-1"), (3.0, "1-3"), (float("inf"), ">= 3"))


def _bucket(attrs) -> str:
    if attrs is None:
        return "unknown"
    band = next(name for top, name in BUCKETS if attrs.confidence < top)
    return f"{band}, {'listeners' if attrs.from_listeners else 'embedding only'}"


def sweep(config=None, artists: int = 400, start: int = 0) -> dict:
    cfg = load_config(config)
    stages = InProcessStages.from_config(cfg)
    pipeline = Pipeline(stages, cfg)
    enrichment = stages.retriever.enrichment
    labels = load_labels()
    in_catalog = {norm(a): a for t in stages.retriever.catalog.tracks for a in t.artists}
    names = sorted(k for k in labels if k in in_catalog)[start:start + artists]
    total, by = Counter(), {}
    for key in names:
        x, fams = in_catalog[key], labels[key]
        res = asyncio.run(pipeline.playlist(PlaylistRequest(prompt=f"songs like {x}", length=20), RequestContext()))
        seen = [labels.get(norm(t.artists[0])) for t in res.tracks if t.artists]
        lab = [f for f in seen if f is not None]
        off = sum(not (f & fams) for f in lab)
        leads = Counter(norm(t.artists[0]) for t in res.tracks if t.artists)
        b = by.setdefault(_bucket(enrichment.artist(x) if enrichment else None), Counter())
        for c in (total, b):
            c["off"] += off
            c["labelled"] += len(lab)
            c["artists"] += 1
            c["shown"] += len(res.tracks)
            c["own"] += leads.get(key, 0)
            c["one_artist"] += max(leads.values(), default=0)
            c["short"] += len(res.tracks) < 20
    def rates(c: Counter) -> dict:
        return {"off_rate": round(c["off"] / c["labelled"], 3) if c["labelled"] else None,
                "own_share": round(c["own"] / c["shown"], 3) if c["shown"] else None,
                "one_artist": round(c["one_artist"] / c["shown"], 3) if c["shown"] else None}

    return {"artists": total["artists"], "off": total["off"], "labelled": total["labelled"], **rates(total),
            "short": total["short"], "mean_length": round(total["shown"] / max(total["artists"], 1), 1),
            "by_confidence": {k: {"artists": v["artists"], "off": v["off"], "labelled": v["labelled"], **rates(v)}
                              for k, v in sorted(by.items(), key=lambda kv: _order(kv[0]))}}


def _order(bucket: str) -> tuple[int, str]:
    return next((i for i, (_, name) in enumerate(BUCKETS) if bucket.startswith(name)), len(BUCKETS)), bucket


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--artists", type=int, default=400)
    ap.add_argument("--start", type=int, default=0, help="skip this many artists first (400: the unread rest)")
    ap.add_argument("--config", default=None)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    out = sweep(a.config, a.artists, a.start)
    if a.json:
        print(json.dumps(out))
        return
    print(f"songs like X, {out['artists']} artists: {out['off']} / {out['labelled']} off = {out['off_rate']}; "
          f"X's own share {out['own_share']}, one artist's largest share {out['one_artist']}; "
          f"{out['short']} playlists under 20 tracks, {out['mean_length']} tracks on average")
    print("| X's genre confidence | artists | off / labelled | rate | X's own share | one artist |\n|---|---|---|---|---|---|")
    for k, v in out["by_confidence"].items():
        print(f"| {k} | {v['artists']} | {v['off']} / {v['labelled']} | {v['off_rate']} | {v['own_share']} | "
              f"{v['one_artist']} |")


if __name__ == "__main__":
    main()
