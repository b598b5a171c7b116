"""Do two embedder runtimes give the same playlists? The same prompts through the default
in-process pipeline once per runtime; prints how many playlists are identical and their mean
overlap. (This is how ONNX Runtime was checked against torch before becoming the default.)

    python -m serving.tools.embedder_equivalence --dialogs ../shared/data/cpcd/dialogs.train.jsonl --limit 400
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time


def playlists(runtime: str, prompts: list[str], length: int) -> list[list[str]]:
    from serving.config import AppConfig
    from serving.pipeline import InProcessStages, Pipeline
    from serving.schemas import PlaylistRequest, RequestContext

    cfg = AppConfig.from_dict({"retrieval": {"embedder": {"runtime": runtime}}})
    pipe = Pipeline(InProcessStages.from_config(cfg), cfg)

    async def one(p: str) -> list[str]:
        return [t.track_id for t in (await pipe.playlist(PlaylistRequest(prompt=p, length=length), RequestContext())).tracks]

    return [asyncio.run(one(p)) for p in prompts]


def main(argv: list[str] | None = None) -> int:
    from serving.tools.bench.loadgen import prompts_from_dialogs

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dialogs", required=True, help="CPCD-format JSONL: its first-turn prompts are used")
    ap.add_argument("--limit", type=int, default=400)
    ap.add_argument("--length", type=int, default=20)
    ap.add_argument("--runtimes", default="torch,onnx", help="two runtimes, comma-separated")
    args = ap.parse_args(argv)
    a, b = args.runtimes.split(",")
    prompts = prompts_from_dialogs(args.dialogs)[: args.limit]
    out = {}
    for rt in (a, b):
        t0 = time.perf_counter()
        out[rt] = playlists(rt, prompts, args.length)
        print(f"{rt}: {len(prompts)} playlists in {time.perf_counter() - t0:.1f}s", flush=True)
    pairs = list(zip(out[a], out[b]))
    print(json.dumps({"prompts": len(prompts), "identical_playlists": sum(x == y for x, y in pairs),
                      "mean_overlap": round(sum(len(set(x) & set(y)) / max(1, len(x)) for x, y in pairs) / len(pairs), 4)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
