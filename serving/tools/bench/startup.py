"""Time from `segue serve` (what scripts/run execs) to ready, cold and with a cached index,
then p50/p99 of sequential POST /v1/playlists against the started server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from serving.tools.bench.loadgen import run_load
from serving.tools.bench.report import table


def _start(config_path: str, port: int, timeout_s: float = 900) -> tuple[subprocess.Popen, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "serving.cli", "serve", "--config", config_path, "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("segue ready on"):
            return proc, time.perf_counter() - t0
        if time.perf_counter() - t0 > timeout_s or proc.poll() is not None:
            break
    _stop(proc)
    raise RuntimeError("segue serve did not become ready")


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def run(port: int, sequential: int = 200, prompts: list[str] | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="segue-bench-") as tmp:
        cfg = Path(tmp) / "config.yaml"
        cfg.write_text(yaml.safe_dump({"retrieval": {"cache_dir": str(Path(tmp) / "cache")},
                                       "security": {"rate_limit": {"enabled": False}}}))
        proc, cold = _start(str(cfg), port)
        _stop(proc)
        proc, warm = _start(str(cfg), port)
        try:
            body = lambda i: {"prompt": (prompts or ["heavy metal to work out to"])[i % len(prompts or [1])]}  # noqa: E731
            res = asyncio.run(run_load(f"http://127.0.0.1:{port}/v1/playlists", body, requests=sequential, concurrency=1))
        finally:
            _stop(proc)
    out = {"cold_s": cold, "cached_s": warm, "sequential": res.summary()}
    out["table"] = table(
        ["cold start to ready (s)", "cached index start to ready (s)", "sequential requests", "200", "p50 ms", "p99 ms"],
        [[cold, warm, res.sent, res.ok, res.pct(50), res.pct(99)]])
    return out
