"""scripts/bench: graph overhead, retrieval at scale, end-to-end sweep, autoscaling.

Prints Markdown tables and writes JSON (default out/bench/results.json).
`--quick` shrinks every section to finish in a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from serving.tools.bench.report import machine, table, write_json

SECTIONS = ("startup", "graph", "retrieval", "e2e", "autoscale", "stages", "embedders", "openloop")
DIALOGS = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "cpcd" / "dialogs.train.jsonl"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes; a few minutes on 2 cores")
    ap.add_argument("--sections", default=",".join(SECTIONS), help=f"comma list of {', '.join(SECTIONS)}")
    ap.add_argument("--out", default="out/bench/results.json")
    ap.add_argument("--port", type=int, default=8950)
    ap.add_argument("--variants", default=None, help="comma list of graph variants (default: all)")
    ap.add_argument("--rates", default=None, help="openloop: comma list of arrival rates (req/s)")
    ap.add_argument("--seconds", type=int, default=None, help="openloop: seconds per rate")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                    help="openloop: AppConfig override, e.g. batching.max_batch_size=8 (repeatable)")
    args = ap.parse_args(argv)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    bad = [s for s in sections if s not in SECTIONS]
    if bad:
        ap.error(f"unknown section(s) {bad}; choose from {', '.join(SECTIONS)}")

    from serving.tools.bench.loadgen import prompts_from_dialogs

    prompts_file = str(DIALOGS) if DIALOGS.is_file() else None
    prompts = prompts_from_dialogs(prompts_file)
    q = args.quick
    results: dict = {"machine": machine(), "quick": q, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    print(f"# Segue benchmarks ({'quick' if q else 'full'}) on {results['machine']}\n", flush=True)

    if "startup" in sections:
        from serving.tools.bench.startup import run as startup_run

        r = startup_run(args.port + 40, sequential=50 if q else 200, prompts=prompts)
        results["startup"] = r
        print("## 0. Start-up (`segue serve`, what scripts/run runs) and sequential latency\n")
        print(r["table"] + "\n", flush=True)

    if "graph" in sections:
        from serving.tools.bench.graph import GRAPH_HEADERS, VARIANTS, in_process, ratio_rows, run_variant_subprocess

        n, levels = (40 if q else 200), [1, 16]
        names = args.variants.split(",") if args.variants else (
            ["serve default", "serve throughput-optimized (gRPC, direct ingress)"] if q else list(VARIANTS))
        inproc = in_process(prompts, n, levels)
        variants = {}
        for i, name in enumerate(names):
            variants[name] = run_variant_subprocess(name, prompts_file, n, levels, args.port + 1 + i)
        results["graph"] = {"in_process": inproc, "variants": variants, "requests_per_level": n}
        print("## 1. Graph overhead (same prompts; CPU of all Ray processes, idle CPU subtracted)\n")
        print(table(GRAPH_HEADERS, ratio_rows(inproc, variants, levels)) + "\n", flush=True)

    if "retrieval" in sections:
        from serving.tools.bench.retrieval_scale import run as retrieval_run

        n = 200_000 if q else 1_000_000
        r = retrieval_run(n, queries=100 if q else 300)
        results["retrieval"] = r
        print(f"## 2. Retrieval at scale: {n:,} synthetic tracks x 384 dims, k=100, one core per query, "
              f"~{1 - r['kept_fraction']:.0%} of tracks filtered out in the filtered columns\n")
        print(r["table"] + "\n", flush=True)

    if "e2e" in sections or "autoscale" in sections:
        import ray
        from ray import serve

        from serving.tools.bench.graph import bench_config
        from serving.tools.bench.sweep import autoscale_step, concurrency_sweep
        from serving.server import start_local_graph

        try:
            if "e2e" in sections:
                url = start_local_graph(bench_config(args.port, {"logging": {"level": "WARNING", "access_log": False}}))
                per = 40 if q else 200
                results["e2e"] = concurrency_sweep(f"{url}/v1/playlists", prompts, [1, 2, 4, 8, 16], per)
                print(f"## 3. End to end on the embedded default ({per} requests per level, CPCD first-turn prompts)\n")
                print(results["e2e"]["table"] + "\n", flush=True)
            if "autoscale" in sections:
                fast = {"min_replicas": 1, "max_replicas": 3, "target_ongoing_requests": 2, "upscale_delay_s": 1,
                        "downscale_delay_s": 5, "look_back_period_s": 2, "metrics_interval_s": 0.5}
                dep = {"resources": {"num_cpus": 0.25}, "autoscaling": fast, "max_ongoing_requests": 8,
                       "max_queued_requests": 256}
                # The Ingress holds a whole batch in flight: one replica admits 31 at once, so the
                # 16-client step is within the capacity of the replicas already running and the
                # target is zero 503 through the step up and the step down. max_replicas is then
                # lowered to what the node's CPUs hold (serving/capacity.py, in start_local_graph).
                deps = {k: dep for k in ("intent", "retriever", "ranker")}
                deps["ingress"] = {**dep, "max_ongoing_requests": 32}
                cfg = bench_config(args.port, {"deployments": deps,
                                               "logging": {"level": "WARNING", "access_log": False}})
                url = start_local_graph(cfg)
                low, high, after = (10, 30, 25) if q else (20, 60, 45)
                r = autoscale_step(f"{url}/v1/playlists", prompts, low, high, after)
                results["autoscale"] = r
                print(f"## 4. Autoscaling: 1 client for {low}s, 16 for {high}s, 1 for {after}s "
                      "(target 2 ongoing per replica, max 3 before the node's CPU bound)\n")
                print(r["table"] + "\n\n" + r["phase_table"] + "\n", flush=True)
        finally:
            if ray.is_initialized():
                serve.shutdown()
                ray.shutdown()

    if "stages" in sections:
        from serving.tools.bench import stage_cpu

        n = 64 if q else 256
        results["stages"] = stage_cpu.run(prompts, n, [1, 4, 16])
        print(f"## 5. Stage CPU in one process, batch of one vs batched ({n} CPCD prompts, torch 1 thread)\n")
        print(table(stage_cpu.HEADERS, stage_cpu.rows(results["stages"])) + "\n", flush=True)

    if "embedders" in sections:
        from serving.tools.bench import embedders

        results["embedders"] = embedders.run(prompts, seconds=1.0 if q else 3.0)
        print("## 6. Embedder runtimes (one thread; CPCD prompts)\n")
        print(table(embedders.HEADERS, embedders.rows(results["embedders"])) + "\n", flush=True)

    if "openloop" in sections:
        from serving.tools.bench import openloop

        rates = [int(r) for r in args.rates.split(",")] if args.rates else ([25, 50, 100, 150] if q else
                                                                             [25, 50, 100, 150, 200, 300])
        secs = args.seconds or (10 if q else 30)
        def progress(partial):
            s = partial["sequential"]
            steps, cpu = openloop.tables(partial)
            print(f"[openloop so far, loadavg {os.getloadavg()[0]:.2f}] sequential p50 {s['p50_ms']:.1f} ms\n"
                  f"{steps}\n\n{cpu}\n", file=sys.stderr, flush=True)
            write_json(args.out + ".partial", {**results, "openloop": partial})

        r = openloop.run(prompts, rates, secs, args.port + 60, sequential_n=40 if q else 100,
                         config=openloop.bench_graph_config(args.port + 60, overrides=_overrides(args)),
                         progress=progress)
        results["openloop"] = r
        steps, cpu = openloop.tables(r)
        s = r["sequential"]
        print(f"## 7. Open loop (k6 constant-arrival-rate, {secs}s per rate, CPCD prompts, length 20) "
              f"against scripts/run's default graph\n")
        print(f"Sequential (1 client): p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms over {s['ok']} requests.\n")
        print(steps + "\n")
        print("CPU ms per answered request by process group, and the average batch each stage saw:\n")
        print(cpu + "\n", flush=True)

    write_json(args.out, results)
    print(f"results written to {args.out}")
    return 0


def _overrides(args) -> dict:
    import json

    out: dict = {}
    for item in args.set:
        key, _, raw = item.partition("=")
        node = out
        *path, last = key.split(".")
        for k in path:
            node = node.setdefault(k, {})
        node[last] = json.loads(raw)
    return out


if __name__ == "__main__":
    sys.exit(main())
