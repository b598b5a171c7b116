"""Graph overhead: the Ray Serve graph vs the same stages in one process, same inputs.

Serve variants run in a fresh subprocess each, because Ray Serve reads its fast-path
switches from the environment when Ray starts.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import psutil

from serving.tools.bench.loadgen import run_load
from serving.tools.bench.report import pct
from serving.config import AppConfig
from serving.schemas import PlaylistRequest, RequestContext

# name -> (environment for Ray, AppConfig overrides)
VARIANTS: dict[str, tuple[dict[str, str], dict]] = {
    "serve default": ({}, {}),
    "serve, access log off": ({}, {"logging": {"level": "WARNING", "access_log": False}}),
    "serve throughput-optimized (gRPC, direct ingress)": (
        {"RAY_SERVE_THROUGHPUT_OPTIMIZED": "1"}, {"logging": {"level": "WARNING", "access_log": False}}),
    "serve HAProxy ingress": ({"RAY_SERVE_ENABLE_HA_PROXY": "1"}, {"logging": {"level": "WARNING", "access_log": False}}),
}


def bench_config(port: int, overrides: dict) -> AppConfig:
    one = {"resources": {"num_cpus": 0.25}, "autoscaling": {"min_replicas": 1, "max_replicas": 1},
           "max_ongoing_requests": 32, "max_queued_requests": 256}
    data = {"http": {"port": port}, "deployments": {k: one for k in ("ingress", "intent", "retriever", "ranker")},
            "security": {"rate_limit": {"enabled": False}}}
    data.update(overrides)
    return AppConfig.from_dict(data)


def in_process(prompts: list[str], n: int, concurrencies: list[int]) -> dict:
    import torch

    from serving.pipeline import InProcessStages, Pipeline

    torch.set_num_threads(1)  # as in a Serve replica with a fractional CPU (Ray sets OMP_NUM_THREADS=1)
    cfg = AppConfig()
    pipe = Pipeline(InProcessStages.from_config(cfg), cfg)

    async def one(i):
        t = time.perf_counter()
        await pipe.playlist(PlaylistRequest(prompt=prompts[i % len(prompts)]), RequestContext())
        return (time.perf_counter() - t) * 1000

    asyncio.run(one(0))  # warm-up
    out = {}
    for c in concurrencies:
        async def run_all():
            lat, i = [], 0
            while i < n:
                start = time.perf_counter()
                batch = list(range(i, min(n, i + c)))
                # The stages are CPU-bound and synchronous: concurrent callers queue, and each
                # caller's latency runs from when its batch was submitted.
                for j in batch:
                    await one(j)
                    lat.append((time.perf_counter() - start) * 1000)
                i += c
            return lat

        cpu0, t0 = time.process_time(), time.perf_counter()
        lat = asyncio.run(run_all())
        wall = time.perf_counter() - t0
        out[c] = {"cpu_ms_per_req": (time.process_time() - cpu0) * 1000 / n, "p50_ms": pct(lat, 50),
                  "p99_ms": pct(lat, 99), "rps": n / wall}
    return out


def _ray_cpu_seconds() -> float:
    total = 0.0
    for p in psutil.Process().children(recursive=True):
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def serve_graph(variant: str, prompts: list[str], n: int, concurrencies: list[int], port: int) -> dict:
    """Runs in a subprocess (see main): starts the graph with the variant's environment."""
    import ray
    from ray import serve

    from serving.server import start_local_graph

    _, overrides = VARIANTS[variant]
    url = start_local_graph(bench_config(port, overrides), num_cpus=2) + "/v1/playlists"
    try:
        body = lambda i: {"prompt": prompts[i % len(prompts)]}  # noqa: E731
        asyncio.run(run_load(url, body, requests=20, concurrency=2))  # warm-up
        time.sleep(2)
        idle0, t = _ray_cpu_seconds(), time.perf_counter()
        time.sleep(5)  # the cluster's own background CPU (GCS, raylet, controller), subtracted below
        idle_rate = (_ray_cpu_seconds() - idle0) / (time.perf_counter() - t)
        out = {"idle_cpu_cores": idle_rate}
        for c in concurrencies:
            cpu0 = _ray_cpu_seconds()
            res = asyncio.run(run_load(url, body, requests=n, concurrency=c))
            cpu = _ray_cpu_seconds() - cpu0 - idle_rate * res.wall_s
            out[c] = {"cpu_ms_per_req": cpu * 1000 / max(1, res.ok), "p50_ms": res.pct(50), "p99_ms": res.pct(99),
                      "rps": res.throughput, "failed": res.sent - res.ok}
        return out
    finally:
        serve.shutdown()
        ray.shutdown()


def run_variant_subprocess(variant: str, prompts_file: str | None, n: int, concurrencies: list[int], port: int,
                           timeout_s: float = 900) -> dict:
    env_extra, _ = VARIANTS[variant]
    env = {**os.environ, **env_extra}
    cmd = [sys.executable, "-m", "serving.tools.bench.graph", variant, str(n), ",".join(map(str, concurrencies)), str(port),
           prompts_file or ""]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s}s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            return {int(k) if k.isdigit() else k: v for k, v in json.loads(line).items()}
    return {"error": (proc.stderr or proc.stdout)[-800:]}


def main() -> None:
    from serving.tools.bench.loadgen import prompts_from_dialogs

    variant, n, concurrencies, port, prompts_file = sys.argv[1:6]
    prompts = prompts_from_dialogs(prompts_file or None)
    res = serve_graph(variant, prompts, int(n), [int(c) for c in concurrencies.split(",")], int(port))
    print(json.dumps(res), flush=True)



def ratio_rows(inproc: dict, variants: dict[str, dict], concurrencies: list[int]) -> list[list]:
    rows = []
    for c in concurrencies:
        base = inproc[c]
        rows.append(["in-process (stages only)", c, base["cpu_ms_per_req"], base["p50_ms"], base["p99_ms"], base["rps"],
                     1.0, 1.0, 0.0])
        for name, r in variants.items():
            if "error" in r or c not in r:
                rows.append([name, c, "error", "", "", "", "", "", str(r.get("error", ""))[:60]])
                continue
            v = r[c]
            rows.append([name, c, v["cpu_ms_per_req"], v["p50_ms"], v["p99_ms"], v["rps"],
                         v["cpu_ms_per_req"] / base["cpu_ms_per_req"], v["p50_ms"] / base["p50_ms"],
                         v["cpu_ms_per_req"] - base["cpu_ms_per_req"]])
    return rows


GRAPH_HEADERS = ["path", "concurrency", "CPU ms/req", "p50 ms", "p99 ms", "req/s", "CPU ratio", "p50 ratio",
                 "Serve overhead CPU ms/req"]


if __name__ == "__main__":
    main()
