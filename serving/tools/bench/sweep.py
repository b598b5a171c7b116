"""End-to-end throughput and latency at several concurrencies, and the autoscaling step."""

from __future__ import annotations

import asyncio
import threading
import time

from serving.tools.bench.loadgen import run_load
from serving.tools.bench.report import table


def concurrency_sweep(url: str, prompts: list[str], levels: list[int], per_level: int) -> dict:
    body = lambda i: {"prompt": prompts[i % len(prompts)]}  # noqa: E731
    out, rows = {}, []
    for c in levels:
        res = asyncio.run(run_load(url, body, requests=per_level, concurrency=c))
        out[c] = res.summary()
        rows.append([c, res.sent, res.ok, res.throughput, res.pct(50), res.pct(99), res.sent - res.ok, res.lost])
    out["table"] = table(["concurrency", "requests", "200", "req/s", "p50 ms", "p99 ms", "not 200", "lost"], rows)
    return out


def _replicas() -> dict[str, int]:
    from ray import serve

    counts = {}
    for app in serve.status().applications.values():
        for name, dep in app.deployments.items():
            counts[name] = dep.replica_states.get("RUNNING", 0)
    return counts


def autoscale_step(url: str, prompts: list[str], low_s: float, high_s: float, after_s: float,
                   low: int = 1, high: int = 16) -> dict:
    """1 client, then `high` clients, then 1 again; replica counts polled from serve.status()."""
    samples: list[tuple[float, dict]] = []
    stop = threading.Event()
    t0 = time.perf_counter()

    def poll():
        while not stop.is_set():
            try:
                samples.append((time.perf_counter() - t0, _replicas()))
            except Exception:  # status can fail transiently while replicas change
                pass
            time.sleep(0.5)

    threading.Thread(target=poll, daemon=True).start()
    body = lambda i: {"prompt": prompts[i % len(prompts)]}  # noqa: E731
    phases = []
    for clients, seconds in ((low, low_s), (high, high_s), (low, after_s)):
        start = time.perf_counter() - t0
        res = asyncio.run(run_load(url, body, requests=10**6, concurrency=clients, max_seconds=seconds))
        phases.append((clients, start, res))
    stop.set()
    base = samples[0][1] if samples else {}
    step_at = phases[1][1]
    scaled_at, peak, back_at = {}, {}, {}
    for t, counts in samples:
        for name, n in counts.items():
            peak[name] = max(peak.get(name, 0), n)
            if t >= step_at and n > base.get(name, 1) and name not in scaled_at:
                scaled_at[name] = t - step_at
    down_from = phases[2][1]
    for t, counts in samples:
        for name, n in counts.items():
            if t >= down_from and peak.get(name, 0) > base.get(name, 1) and n <= base.get(name, 1) and name not in back_at:
                back_at[name] = t - down_from
    rows = [[name, base.get(name, 0), peak.get(name, 0),
             f"{scaled_at[name]:.1f}" if name in scaled_at else "did not scale",
             f"{back_at[name]:.1f}" if name in back_at else "not within the window"] for name in sorted(peak)]
    one_client = phases[0][2].throughput
    phase_rows = [[f"{clients} clients", f"{start:.0f}s", res.sent, res.ok, res.statuses.get(503, 0),
                   res.sent - res.ok - res.statuses.get(503, 0), res.lost, round(res.throughput, 2),
                   round(res.throughput / one_client, 2) if one_client else "", res.pct(50), res.pct(99)]
                  for clients, start, res in phases]
    return {
        "replicas": {n: {"before": base.get(n), "peak": peak.get(n), "up_s": scaled_at.get(n), "down_s": back_at.get(n)}
                     for n in peak},
        "phases": [{"clients": c, "start_s": s, **r.summary()} for c, s, r in phases],
        "table": table(["deployment", "replicas before", "peak", "s from step to new replica RUNNING",
                        "s from load drop to back to min"], rows),
        "phase_table": table(["phase", "starts", "sent", "200", "503", "other not 200", "lost", "200/s",
                              "x 1-client rate", "p50 ms", "p99 ms"], phase_rows),
    }
