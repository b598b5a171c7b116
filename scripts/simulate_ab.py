"""Simulated A/B runs against a running Segue graph (local Ray, loopback only).

Listeners come from the CPCD training dialogs: each sends the dialog's first-turn
prompt, then likes every returned track that is in the dialog's goal playlist and
skips the first one that is not. The rollout controller (the same code as
`segue rollout`) steps the canary weight through the service's own live-config path
(a declarative Serve deploy -> Ingress reconfigure()) and reads the service's
GET /v1/experiments/{id}. Two runs: a better canary (promoted?) and the deliberately
broken random-v1 ranker (rolled back?).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path

from serving.client import AsyncSegueClient, SegueClient, SegueError
from serving.config import AppConfig
from serving.experiments.report import format_table, write_png
from serving.rollout.controller import InMemoryStateStore, LogEventSink, RolloutController, ServiceMetricsSource
from serving.rollout.local import LocalServeActuator, deploy, start_local
from serving.rollout.policy import RolloutPolicy
from serving.tools.listeners import Listener, reactions

DIALOGS = Path("/work/shared/data/cpcd/dialogs.train.jsonl")
RUNS = {"better": "baseline-v2", "broken": "random-v1"}


def load_listeners(path: Path) -> list[tuple[str, set[str]]]:
    out = []
    for line in path.read_text().splitlines():
        d = json.loads(line)
        if d.get("goal_playlist"):  # two dialogs have none
            out.append((d["turns"][0]["user_query"], set(d["goal_playlist"])))
    return out


def experiment(run: str, canary_ranker: str) -> dict:
    return {"id": f"sim-{run}", "salt": f"sim-{run}-salt", "control": "control", "arms": [
        {"name": "control", "weight": 1.0, "components": {"ranker": "baseline-v1"}},
        {"name": "canary", "weight": 0.0, "components": {"ranker": canary_ranker}}]}


async def listen(client: AsyncSegueClient, user: str, prompt: str, goal: set[str], sem, stats) -> None:
    async with sem:
        try:
            p = await client.playlist(prompt[:2000], user_id=user, length=20)
        except SegueError:
            stats["failed"] += 1
            return
        stats["served"] += 1
        for track_id, event in reactions(Listener(prompt, frozenset(goal)), [t.track_id for t in p.tracks], None, 0.0):
            try:
                await client.feedback(p.playlist_id, track_id, event)
                stats["feedback"] += 1
            except SegueError:
                stats["feedback_failed"] += 1


async def batch(base: str, users: list[tuple[str, str, set[str]]], concurrency: int, stats) -> None:
    sem = asyncio.Semaphore(concurrency)
    async with AsyncSegueClient(base, timeout_s=120, max_connections=concurrency) as client:
        await asyncio.gather(*(listen(client, u, p, g, sem, stats) for u, p, g in users))


def with_experiment(cfg: AppConfig, run: str) -> AppConfig:
    return cfg.model_copy(update={"experiment": AppConfig.from_dict({"experiment": experiment(run, RUNS[run])}).experiment})


def wait_ready(base: str, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    with SegueClient(base) as client:
        while time.monotonic() < deadline:
            if client.ready():
                return
            time.sleep(0.5)
    raise TimeoutError(f"{base} not ready after {timeout_s}s")


def run_one(run: str, cfg: AppConfig, base: str, listeners, args, out: Path, first: bool) -> str:
    if not first:  # a new experiment id and arms: the graph is redeployed with them (a restart)
        deploy(cfg, cfg.experiment, wait_s=600)
        time.sleep(2)
        wait_ready(base)
    policy = RolloutPolicy(min_served_per_step=args.min_served_per_step, min_guardrail_n=30)
    ctl = RolloutController(cfg.experiment.id, "control", "canary", LocalServeActuator(cfg), ServiceMetricsSource(base),
                            InMemoryStateStore(), LogEventSink(), policy)
    rng = random.Random(f"{run}-{args.seed}")
    order = list(range(len(listeners)))
    rng.shuffle(order)
    stats = {"served": 0, "failed": 0, "feedback": 0, "feedback_failed": 0}
    lines = [f"| look | requests so far | action | canary weight after | reason |", "|---|---|---|---|---|"]
    sent, look, t0 = 0, 0, time.monotonic()

    def record(d):
        nonlocal look
        look += 1
        lines.append(f"| {look} | {sent} | {d.action} | {d.weight:.2f} | {d.reason} |")
        print(f"[{run}] look {look} after {sent} requests: {d.action} -> canary {d.weight:.2f}: {d.reason}", flush=True)

    record(ctl.reconcile())
    while sent < args.max_requests and ctl.state().status == "running":
        n = min(args.batch, args.max_requests - sent)
        users = [(f"sim-{run}-listener-{sent + i}",) + listeners[order[(sent + i) % len(order)]] for i in range(n)]
        asyncio.run(batch(base, users, args.concurrency, stats))
        sent += n
        record(ctl.reconcile())
    with SegueClient(base, timeout_s=30) as client:
        summary = client.experiment(cfg.experiment.id).model_dump(mode="json")
    png = write_png(summary, out / f"simulate-ab-{run}.png")
    (out / f"simulate-ab-{run}.json").write_text(json.dumps({"summary": summary, "state": ctl.state().to_dict()}, indent=1))
    report = "\n".join([
        f"### Run '{run}': control = baseline-v1, canary = {RUNS[run]}",
        f"Outcome: **{ctl.state().status}** after {sent} requests in {time.monotonic() - t0:.0f}s "
        f"(served {stats['served']}, failed {stats['failed']}, feedback {stats['feedback']}, "
        f"feedback failed {stats['feedback_failed']}); chart: {png}",
        "", "```", format_table(summary), "```", "", "Controller decisions:", "", *lines, "",
    ])
    print(report, flush=True)
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", default="better,broken", help="comma-separated: better, broken")
    ap.add_argument("--port", type=int, default=8711)
    ap.add_argument("--max-requests", type=int, default=3000, help="per run (bounded; loopback only)")
    ap.add_argument("--batch", type=int, default=100, help="requests between controller looks")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--min-served-per-step", type=int, default=50)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--dialogs", type=Path, default=DIALOGS)
    ap.add_argument("--out", type=Path, default=Path("simulate-ab-out"))
    args = ap.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)
    import ray
    from ray import serve

    args.out.mkdir(parents=True, exist_ok=True)
    listeners = load_listeners(args.dialogs)
    runs = [r.strip() for r in args.runs.split(",")]
    unknown = set(runs) - set(RUNS)
    if unknown:
        ap.error(f"unknown runs {sorted(unknown)}; choose from {', '.join(RUNS)}")
    small = {"resources": {"num_cpus": 0.25}, "autoscaling": {"min_replicas": 1, "max_replicas": 1}}
    base_cfg = AppConfig.from_dict({
        "name": "segue-sim", "http": {"port": args.port},
        "deployments": {k: small for k in ("ingress", "intent", "retriever", "ranker")},
        "experiment": experiment(runs[0], RUNS[runs[0]]),
        # one loopback client sends everything: the per-client rate limit would only get in the way
        "security": {"rate_limit": {"enabled": False}},
    })
    base = start_local(base_cfg, timeout_s=600)
    try:
        reports = [run_one(r, with_experiment(base_cfg, r), base, listeners, args, args.out, first=(i == 0))
                   for i, r in enumerate(runs)]
    finally:
        serve.shutdown()
        ray.shutdown()
    (args.out / "simulate-ab-report.md").write_text("\n".join(reports))
    print(f"report: {args.out / 'simulate-ab-report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
