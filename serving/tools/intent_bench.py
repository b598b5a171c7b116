"""Intent throughput and latency of the configured vLLM model: 1, 8 and 32 concurrent
requests, with and without structured outputs. Prints a Markdown table, writes JSON.

    scripts/bench-intent [--config serving/configs/llm-cpu.yaml] [--requests-per-level N]

Latency is per request from submit to the full JSON; `valid` is the share of
outputs that parse as an Intent (unconstrained output often does not).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import time
from pathlib import Path

from serving.config import load_config
from serving.intent.backend import IntentOutputError
from serving.intent.embedded_model import resolve_model_dir
from serving.tools.llm_cli import convert_with_progress
from serving.intent.llm_schema import parse_intent
from serving.intent.vllm_backend import VLLMBackend

PROMPTS = [
    "upbeat 80s synthpop for a morning run, no ballads",
    "rainy sunday jazz, nothing too upbeat",
    "something like Daft Punk but more chill",
    "hi, could you make me a playlist for studying, instrumental please",
    "I want songs for a summer road trip with friends",
    "heavy metal to lift weights to, no nu metal",
    "sad indie songs for a breakup",
    "25 songs of 70s disco for a birthday party",
    "hello! i need relaxing music for yoga in the morning",
    "country songs like Dolly Parton and Johnny Cash",
    "something romantic for a dinner date",
    "old school hip hop from the 90s",
]


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))]


async def level(backend: VLLMBackend, concurrency: int, n: int, structured: bool) -> dict:
    sem = asyncio.Semaphore(concurrency)
    lat: list[float] = []
    valid = 0

    async def one(i: int):
        nonlocal valid
        prompt = PROMPTS[i % len(PROMPTS)]
        async with sem:
            t0 = time.perf_counter()
            text, finish = await backend.generate_text(prompt, structured=structured)
            lat.append(time.perf_counter() - t0)
        try:
            if finish != "length":
                parse_intent(text, prompt)
                valid += 1
        except IntentOutputError:
            pass

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    wall = time.perf_counter() - t0
    return {"structured": structured, "concurrency": concurrency, "requests": n,
            "intents_per_s": round(n / wall, 3), "p50_s": round(_pct(lat, 50), 3), "p99_s": round(_pct(lat, 99), 3),
            "valid": round(valid / n, 3), "wall_s": round(wall, 1)}


def markdown(rows: list[dict]) -> str:
    out = ["| structured outputs | concurrency | requests | intents/s | p50 (s) | p99 (s) | valid JSON |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {'on' if r['structured'] else 'off'} | {r['concurrency']} | {r['requests']} | "
                   f"{r['intents_per_s']:.2f} | {r['p50_s']:.2f} | {r['p99_s']:.2f} | {r['valid']:.0%} |")
    return "\n".join(out)


async def run(backend: VLLMBackend, levels: list[int], per_level: int, modes: list[bool]) -> list[dict]:
    # Warm-up: the first structured request compiles the grammar; neither run should pay for it.
    for structured in modes:
        await backend.generate_text(PROMPTS[0], structured=structured)
    rows = []
    for structured in modes:
        for c in levels:
            n = max(per_level, c)
            rows.append(await level(backend, c, n, structured))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench-intent", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="serving/configs/llm-cpu.yaml")
    p.add_argument("--model", default=None, help="override intent.vllm.model (a local directory)")
    p.add_argument("--levels", default="1,8,32")
    p.add_argument("--requests-per-level", type=int, default=8, help="at least this many (and >= concurrency)")
    p.add_argument("--modes", default="on,off", help="structured outputs on, off, or both (on,off)")
    p.add_argument("--out", default="out/bench-intent.json")
    args = p.parse_args(argv)
    config = load_config(args.config)
    cfg = config.intent.vllm
    if args.model:
        cfg = cfg.model_copy(update={"model": args.model})
    if cfg.model in ("gemma3-270m",):
        convert_with_progress(cfg.model, cfg.models_dir)
    t0 = time.perf_counter()
    backend = VLLMBackend(cfg, resolve_model_dir(cfg.model, cfg.models_dir))
    if not backend.wait_ready(1800):
        print(f"bench-intent: engine did not start: {backend.ready()[1]}", file=sys.stderr)
        return 1
    start_s = time.perf_counter() - t0
    try:
        modes = [m.strip() == "on" for m in args.modes.split(",")]
        rows = asyncio.run(run(backend, [int(x) for x in args.levels.split(",")], args.requests_per_level, modes))
    finally:
        backend.shutdown()
    table = markdown(rows)
    print(table)
    device = "cpu"
    try:
        import torch

        if torch.cuda.is_available():
            device = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"model": backend.model_dir, "device": device, "machine": platform.machine(),
                               "engine_start_s": round(start_s, 1), "max_tokens": cfg.max_tokens,
                               "prompt_version": cfg.prompt_version, "rows": rows, "table": table}, indent=2))
    print(f"engine start {start_s:.1f}s; wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
