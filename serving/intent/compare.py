"""Playlist quality with LLM intents vs fallback-parser intents on CPCD dialogs.

For each dialog: prompt = the first user turn, gold = goal_playlist (deduplicated
by cluster_id, else by normalised (title, first artist)), ranked list = the
playlist the in-process pipeline returns (retriever + ranker unchanged; only the
IntentService differs). Metrics: hit@20, hit@100, recall@50, NDCG@20.

    scripts/compare-intent [--dialogs PATH] [--limit N] [--config serving/configs/llm-cpu.yaml]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import sys
import time
from collections import Counter
from pathlib import Path

from serving.config import AppConfig, load_config
from serving.intent.deployment import build_intent_service, make_backend
from serving.intent.llm_cli import prepare_llm, wait_backend_ready
from serving.intent.service import IntentService
from serving.pipeline import InProcessStages, Pipeline
from serving.schemas import PlaylistRequest, RequestContext

DEFAULT_DIALOGS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cpcd" / "dialogs.train.jsonl"
METRICS = ("hit@20", "hit@100", "recall@50", "ndcg@20")


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", s.lower())).strip()


def track_key(track: dict) -> str:
    """Same recording, same key: the cluster id where known, else (title, first artist)."""
    if track.get("cluster_id"):
        return f"c:{track['cluster_id']}"
    artists = track.get("artists") or [""]
    return f"t:{_norm(track.get('title', ''))}|{_norm(artists[0])}"


def metrics(ranked_keys: list[str], gold: set[str]) -> dict[str, float]:
    """Binary-relevance metrics of one ranked list (deduplicated, first occurrence kept)."""
    seen, ranked = set(), []
    for k in ranked_keys:
        if k not in seen:
            seen.add(k)
            ranked.append(k)
    dcg = sum(1 / math.log2(i + 2) for i, k in enumerate(ranked[:20]) if k in gold)
    idcg = sum(1 / math.log2(i + 2) for i in range(min(len(gold), 20)))
    return {
        "hit@20": float(any(k in gold for k in ranked[:20])),
        "hit@100": float(any(k in gold for k in ranked[:100])),
        "recall@50": len(gold & set(ranked[:50])) / len(gold),
        "ndcg@20": dcg / idcg if idcg else 0.0,
    }


def load_cases(path: Path, catalog_meta: dict[str, dict], limit: int | None = None) -> list[tuple[str, str, set[str]]]:
    """(dialog id, first-turn prompt, gold keys); dialogs with an empty goal are skipped.
    Gold tracks are keyed from the catalog (which knows cluster ids), else the dialog's own metadata."""
    cases = []
    with path.open() as f:
        for line in f:
            d = json.loads(line)
            own = {tid: {"title": t.get("track_titles", tid), "artists": t.get("track_artists") or [""]}
                   for tid, t in (d.get("tracks") or {}).items()}
            gold = {track_key(catalog_meta.get(tid) or own.get(tid) or {"title": tid})
                    for tid in d.get("goal_playlist") or []}
            prompt = (d.get("turns") or [{}])[0].get("user_query", "").strip()
            if gold and prompt:
                cases.append((d["id"], prompt, gold))
            if limit and len(cases) >= limit:
                break
    return cases


async def evaluate(pipeline: Pipeline, cases, catalog_meta: dict[str, dict], concurrency: int = 32) -> dict:
    sem = asyncio.Semaphore(concurrency)
    sources: Counter = Counter()
    per_case = []

    async def one(cid, prompt, gold):
        async with sem:
            resp = await pipeline.playlist(PlaylistRequest(prompt=prompt, length=100), RequestContext())
        sources[resp.intent.source.value] += 1
        keys = [track_key(catalog_meta.get(t.track_id, {"title": t.title, "artists": t.artists}))
                for t in resp.tracks]
        per_case.append({"id": cid, **metrics(keys, gold)})

    t0 = time.monotonic()
    await asyncio.gather(*(one(*c) for c in cases))
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
    catalog_meta = {t.track_id: {"title": t.title, "artists": t.artists, "cluster_id": t.cluster_id}
                    for t in base.retriever.catalog.tracks}
    cases = load_cases(dialogs, catalog_meta, limit)
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
            results[name] = await evaluate(Pipeline(stages, config), cases, catalog_meta)
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
