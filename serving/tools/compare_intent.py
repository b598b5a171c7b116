"""Playlist quality with LLM intents vs fallback-parser intents on CPCD dialogs.

For each dialog: prompt = the first user turn, gold = goal_playlist, ranked list = the playlist the
in-process pipeline returns (retriever + ranker unchanged; only the IntentService differs). Dialogs,
recording keys and metrics (hit@20, hit@100, recall@50, NDCG@20) are those of `segue eval`
(serving/evaluation), so both commands score one playlist the same way.

    scripts/compare-intent [--dialogs PATH] [--limit N] [--config serving/configs/llm-cpu.yaml]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path

from serving.catalog.loader import Catalog
from serving.config import AppConfig, load_config
from serving.evaluation.dialogs import EvalDialog, load_dialogs, track_keys
from serving.evaluation.metrics import METRICS, dialog_metrics
from serving.intent.deployment import build_intent_service, make_backend
from serving.intent.service import IntentService
from serving.pipeline import InProcessStages, Pipeline
from serving.schemas import MAX_PROMPT_CHARS, PlaylistRequest, RequestContext
from serving.tools.llm_cli import prepare_llm, wait_backend_ready

DEFAULT_DIALOGS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cpcd" / "dialogs.train.jsonl"


def load_cases(path: Path, catalog: Catalog, limit: int | None = None) -> list[EvalDialog]:
    """The evaluation's dialogs (first user turn, recording-keyed gold), the first `limit` only."""
    dialogs, _ = load_dialogs(path, catalog)
    return dialogs[:limit] if limit else dialogs


async def evaluate(pipeline: Pipeline, cases: list[EvalDialog], keys: dict[str, str], concurrency: int = 32) -> dict:
    sem = asyncio.Semaphore(concurrency)
    sources: Counter = Counter()
    per_case = []

    async def one(d: EvalDialog):
        async with sem:
            resp = await pipeline.playlist(PlaylistRequest(prompt=d.prompt[:MAX_PROMPT_CHARS], length=100),
                                           RequestContext())
        sources[resp.intent.source.value] += 1
        got = [keys.get(t.track_id, f"id:{t.track_id}") for t in resp.tracks]
        per_case.append({"id": d.id, **dialog_metrics(got, d.gold_keys)})

    t0 = time.monotonic()
    await asyncio.gather(*(one(d) for d in cases))
    n = len(per_case)
    summary = {m: round(sum(c[m] for c in per_case) / n, 4) for m in METRICS}
    return {"n": n, **summary, "sources": dict(sources), "seconds": round(time.monotonic() - t0, 1)}


def markdown(results: dict[str, dict]) -> str:
    lines = ["| intents | n | hit@20 | hit@100 | recall@50 | NDCG@20 | intent sources |",
             "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        src = ", ".join(f"{k} {v}" for k, v in sorted(r["sources"].items()))
        lines.append(f"| {name} | {r['n']} | {r['hit@20']:.3f} | {r['hit@100']:.3f} | {r['recall@50']:.4f} "
                     f"| {r['ndcg@20']:.4f} | {src} |")
    return "\n".join(lines)


async def compare(config: AppConfig, dialogs: Path, limit: int | None, backends: list[str]) -> dict[str, dict]:
    base = InProcessStages.from_config(config.model_copy(update={
        "intent": config.intent.model_copy(update={"backend": "fallback"})}))
    catalog = base.retriever.catalog
    cases = load_cases(dialogs, catalog, limit)
    keys = track_keys(catalog)
    results = {}
    for name in backends:
        service: IntentService = base.intent_service
        if name != "fallback":
            cfg = prepare_llm(config.model_copy(update={
                "intent": config.intent.model_copy(update={"backend": name})}), deadline_ms=config.intent.deadline_ms)
            service = build_intent_service(cfg, embedder=base.retriever.embedder, backend=make_backend(cfg))
            await wait_backend_ready(service)
        try:
            stages = InProcessStages(service, base.retriever, base.ranker)
            results[name] = await evaluate(Pipeline(stages, config), cases, keys)
            results[name]["versions"] = service._versions()
            results[name]["fallbacks"] = dict(service.fallbacks)
        finally:
            if service.backend is not None:
                await service.backend.close()
        print(f"{name}: {json.dumps(results[name])}", file=sys.stderr, flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="compare-intent", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="serving/configs/llm-cpu.yaml", help="config whose intent.vllm section is used")
    p.add_argument("--dialogs", default=str(DEFAULT_DIALOGS))
    p.add_argument("--limit", type=int, default=None, help="first N usable dialogs only")
    p.add_argument("--backends", default="fallback,vllm", help="comma-separated: fallback, vllm, openai")
    p.add_argument("--deadline-ms", type=int, default=None,
                   help="LLM deadline (default: the config's; quality runs may want it generous)")
    p.add_argument("--out", default="out/compare-intent.json")
    args = p.parse_args(argv)
    config = load_config(args.config)
    if args.deadline_ms:
        config = config.model_copy(update={"intent": config.intent.model_copy(update={"deadline_ms": args.deadline_ms})})
    results = asyncio.run(compare(config, Path(args.dialogs), args.limit, args.backends.split(",")))
    table = markdown(results)
    print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"dialogs": args.dialogs, "config": args.config, "deadline_ms": config.intent.deadline_ms,
                               "results": results, "table": table}, indent=2))
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
