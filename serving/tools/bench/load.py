"""scripts/load: sustained load, replica kills and an intent-engine stall, on loopback only.

Every request is accounted for: answered (by status) or lost. The report's `lost`
must be 0: overload is answered with 429/503 + Retry-After, never dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
from collections import Counter

from serving.tools.bench.loadgen import LoadResult, prompts_from_dialogs, run_load
from serving.tools.bench.main import DIALOGS
from serving.tools.bench.report import table, write_json
from serving.config import AppConfig

DEPLOYMENTS = ("Ingress", "IntentModel", "Retriever", "Ranker")
# Killed too: the experiment records it holds are in the store, so nothing may be lost.
KILLED = DEPLOYMENTS + ("OutcomeStore",)
FIXED_REPLICAS = {"OutcomeStore": 1}


def load_config(port: int, replicas: int, intent: dict | None = None, ingress_replicas: int | None = None,
                num_cpus: float = 0.2, store_url: str | None = None) -> AppConfig:
    def dep(n: int) -> dict:
        return {"resources": {"num_cpus": num_cpus}, "autoscaling": {"min_replicas": n, "max_replicas": n},
                "max_ongoing_requests": 8, "max_queued_requests": 32}

    deployments = {k: dep(replicas) for k in ("intent", "retriever", "ranker")}
    deployments["ingress"] = dep(ingress_replicas or replicas)
    data = {
        "http": {"port": port},
        "deployments": deployments,
        "logging": {"level": "WARNING", "access_log": False},
        # Below max_ongoing_requests, so the admission bound (503 + Retry-After) answers before Serve queues.
        "admission": {"max_in_flight": 7},
        # Simulated listeners come from many clients (X-Forwarded-For), each under its limit.
        "security": {"trust_forwarded_for": True, "trusted_proxies": ["127.0.0.1/32"],
                     "rate_limit": {"requests_per_s": 20, "burst": 40}},
        # A store of its own: a load run's playlists never mix with scripts/run's experiment.
        "store": ({"backend": "postgres", "postgres": {"url": store_url}} if store_url else
                  {"sqlite_path": os.path.join(tempfile.mkdtemp(prefix="segue-load-"), "segue.db")}),
    }
    if intent:
        data["intent"] = intent
    return AppConfig.from_dict(data)


def _body(prompts):
    return lambda i: {"prompt": prompts[i % len(prompts)], "user_id": f"listener-{i % 500}"}


def _client_headers(i: int) -> dict:
    # 500 simulated listeners, each its own client for the per-client limits (the loopback
    # peer is the trusted proxy, so the client is the address it forwards). The header is
    # only a label here: every request goes to the loopback address.
    return {"x-forwarded-for": f"198.51.{100 + (i % 500) // 250}.{i % 250}"}


async def _load(url, prompts, requests, concurrency, max_seconds, stop=None) -> LoadResult:
    return await run_load(url, _body(prompts), requests=requests, concurrency=concurrency, max_seconds=max_seconds,
                          headers=_client_headers, stop=stop, honor_retry_after=True)


def _replica_actors(deployment: str) -> list[str]:
    import ray

    return sorted(a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
                  if a["name"].startswith("SERVE_REPLICA::") and f"#{deployment}#" in a["name"])


def _running(deployment: str) -> int:
    from ray import serve

    for app in serve.status().applications.values():
        if deployment in app.deployments:
            return app.deployments[deployment].replica_states.get("RUNNING", 0)
    return 0


def kill_replica(dep: str, replicas: int, timeout_s: float = 120) -> dict | None:
    """SIGKILL-like (ray.kill, no restart) one replica of `dep`; returns when a replacement
    (a replica name not seen before) is RUNNING and the deployment is back to its count."""
    import ray

    names = _replica_actors(dep)
    if not names:
        return None
    t_kill = time.perf_counter()
    ray.kill(ray.get_actor(names[0], namespace="serve"), no_restart=True)
    recovered = None
    while time.perf_counter() - t_kill < timeout_s:
        time.sleep(0.25)
        fresh = set(_replica_actors(dep)) - set(names)
        if fresh and _running(dep) >= FIXED_REPLICAS.get(dep, replicas):
            recovered = time.perf_counter() - t_kill
            break
    return {"deployment": dep, "replica": names[0].split("#")[-1], "killed_at": t_kill, "recovery_s": recovered}


def kill_replicas_during_load(url, prompts, requests, concurrency, max_seconds, replicas,
                              deployments=KILLED) -> dict:
    """The load runs until every deployment was killed and is back, plus 10 s (at most
    `max_seconds`, and `requests` requests)."""
    kills = []
    done, killed_all = threading.Event(), threading.Event()

    def killer():
        time.sleep(5)
        for dep in deployments:
            if done.is_set():
                return
            k = kill_replica(dep, replicas)
            if k is not None:
                kills.append(k)
            time.sleep(3)
        time.sleep(7)
        killed_all.set()

    th = threading.Thread(target=killer, daemon=True)
    th.start()
    t_start = time.perf_counter()
    res = asyncio.run(_load(url, prompts, requests, concurrency, max_seconds, stop=killed_all))
    done.set()
    th.join(timeout=180)
    for k in kills:
        k["killed_at_s"] = round(k.pop("killed_at") - t_start, 2)
    for k in kills:
        k["while_down"] = while_down(res, k)
    return {"result": res, "kills": kills, **classify(res, kills)}


def while_down(res: LoadResult, kill: dict) -> dict:
    """What the requests in flight between a kill and its replacement running got."""
    t0 = kill["killed_at_s"]
    t1 = t0 + (kill["recovery_s"] or 0)
    hit = [(status, ms) for start, status, ms in res.timeline if start <= t1 and start + ms / 1000 >= t0]
    ok = sorted(ms for status, ms in hit if status == 200)
    return {"requests": len(hit), "answered": dict(sorted(Counter("lost" if s == -1 else s for s, _ in hit).items(), key=str)),
            "max_ms_200": round(ok[-1], 1) if ok else None,
            "p50_ms_200": round(ok[len(ok) // 2], 1) if ok else None}


def classify(res: LoadResult, kills: list[dict]) -> dict:
    """Every answer that is not 200 or 429/503 with Retry-After, split into the requests that
    were in flight when the Ingress replica was killed (they may die with it: counted apart)
    and everything else (must be 0)."""
    ingress = [k["killed_at_s"] for k in kills if k["deployment"] == "Ingress"]
    on_killed_ingress, other = Counter(), Counter()
    for start, status, ms in res.timeline:
        if status == 200 or status in (429, 503):
            continue
        in_flight = any(start <= t <= start + ms / 1000 for t in ingress)
        (on_killed_ingress if in_flight else other)["lost" if status == -1 else status] += 1
    return {"in_flight_on_killed_ingress": dict(on_killed_ingress), "other_errors": dict(other)}


def stall_intent_engine(url, prompts, requests, concurrency, max_seconds) -> dict:
    """The IntentModel's fault switch (user_config) stalls the LLM backend mid-load; the
    deadline must answer every request with the fallback parser. At most `requests`
    requests; none is started after `max_seconds` (those already sent are all awaited)."""
    from serving.client import NO_RETRIES, AsyncSegueClient, SegueAPIError, SegueConnectionError

    sources: dict[str, int] = {}
    res = LoadResult()
    base = url.rpartition("/v1/")[0]

    async def run():
        async with AsyncSegueClient(base, timeout_s=60, retry=NO_RETRIES, max_connections=concurrency) as client:
            t0 = time.perf_counter()
            next_i = 0

            async def worker():
                nonlocal next_i
                while next_i < requests and time.perf_counter() - t0 < max_seconds:
                    i, next_i = next_i, next_i + 1
                    res.sent += 1
                    t = time.perf_counter()
                    body = _body(prompts)(i)
                    try:
                        p = await client.playlist(body["prompt"], user_id=body["user_id"])
                    except SegueAPIError as e:
                        res.statuses[e.status] += 1
                        continue
                    except SegueConnectionError as e:
                        res.lost += 1
                        res.lost_errors[type(e.__cause__ or e).__name__] += 1
                        continue
                    res.statuses[200] += 1
                    res.latencies_ms.append((time.perf_counter() - t) * 1000)
                    sources[p.intent.source.value] = sources.get(p.intent.source.value, 0) + 1

            await asyncio.gather(*(worker() for _ in range(concurrency)))
            res.wall_s = time.perf_counter() - t0

    asyncio.run(run())
    return {"result": res, "intent_sources": sources}


def _load_avg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None, restart_db=None) -> int:
    """`restart_db()`: restarts the database server mid-soak (a test harness's own server);
    --db-restart-cmd gives one as a shell command instead."""
    ap = argparse.ArgumentParser(prog="scripts/load", description=__doc__)
    ap.add_argument("--requests", type=int, default=10_000, help="requests in the sustained phase")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--kill-requests", type=int, default=100_000,
                    help="most requests in the replica-kill phase (it ends 10 s after the last deployment is back)")
    ap.add_argument("--max-seconds", type=float, default=1800, help="cap on each phase's duration")
    ap.add_argument("--port", type=int, default=8970)
    ap.add_argument("--kill", default=",".join(KILLED),
                    help=f"deployments the kill phase kills one replica of, in order (of {', '.join(KILLED)})")
    ap.add_argument("--replicas", type=int, default=2, help="replicas of every deployment but the OutcomeStore")
    ap.add_argument("--ingress-replicas", type=int, default=None, help="Ingress replicas (default: --replicas)")
    ap.add_argument("--phases", default="sustained,kill,stall", help="any of sustained, kill, stall, soak")
    ap.add_argument("--stall-requests", type=int, default=60, help="most requests in each part of the stall phase")
    ap.add_argument("--stall-part-seconds", type=float, default=90,
                    help="no stall-phase request starts after this long into its part")
    ap.add_argument("--stall-concurrency", type=int, default=4)
    ap.add_argument("--stall-warmup-s", type=float, default=300,
                    help="longest wait, from the stall app's start, for its first intent from the LLM "
                    "before the parts start")
    ap.add_argument("--soak-minutes", type=float, default=20)
    ap.add_argument("--store-url", default=None,
                    help="a PostgreSQL URL (an empty database of its own) instead of a temporary SQLite file")
    ap.add_argument("--db-restart-cmd", default=None,
                    help="shell command that restarts the database server; the soak runs it mid-way instead of "
                    "killing the OutcomeStore replica")
    ap.add_argument("--soak-rate", default="auto",
                    help="requests/s of the soak; auto = half the capacity measured just before it")
    ap.add_argument("--out", default="out/load/results.json")
    args = ap.parse_args(argv)
    phases = [p for p in args.phases.split(",") if p]
    bad = set(phases) - {"sustained", "kill", "stall", "soak"}
    if bad:
        ap.error(f"unknown phase(s) {sorted(bad)}; choose from sustained, kill, stall, soak")
    killed = tuple(d for d in args.kill.split(",") if d)
    if set(killed) - set(KILLED):
        ap.error(f"--kill: unknown deployment(s) {sorted(set(killed) - set(KILLED))}; choose from {', '.join(KILLED)}")

    import ray
    from ray import serve

    from serving.server import start_local_graph

    prompts = prompts_from_dialogs(str(DIALOGS) if DIALOGS.is_file() else None)
    report: dict = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "replicas": args.replicas,
                    "ingress_replicas": args.ingress_replicas or args.replicas}
    rows, extra = [], []
    if args.db_restart_cmd and restart_db is None:
        import subprocess

        def restart_db():
            subprocess.run(args.db_restart_cmd, shell=True, check=True, timeout=120)
    cfg = load_config(args.port, replicas=args.replicas, ingress_replicas=args.ingress_replicas,
                      store_url=args.store_url)
    if args.ingress_replicas:
        FIXED_REPLICAS["Ingress"] = args.ingress_replicas
    try:
        t = time.perf_counter()
        url = start_local_graph(cfg) + "/v1/playlists"
        report["start_s"] = round(time.perf_counter() - t, 1)
        for phase in phases:
            t, la0 = time.perf_counter(), _load_avg()
            if phase == "sustained":
                res = asyncio.run(_load(url, prompts, args.requests, args.concurrency, args.max_seconds))
                report["sustained"] = res.summary()
                rows.append(["sustained", res.sent, res.summary()["answered"], res.lost, res.missing_retry_after,
                             res.pct(50), res.pct(99), f"{res.throughput:.1f} ok/s"])
            elif phase == "kill":
                k = kill_replicas_during_load(url, prompts, args.kill_requests, args.concurrency, args.max_seconds,
                                              args.replicas, killed)
                res = k["result"]
                report["kill"] = {**res.summary(), "kills": k["kills"],
                                  "in_flight_on_killed_ingress": k["in_flight_on_killed_ingress"],
                                  "other_errors": k["other_errors"]}
                rec = ", ".join(f"{x['deployment']} {x['recovery_s']:.1f}s" if x["recovery_s"] else
                                f"{x['deployment']} not recovered" for x in k["kills"])
                extra.append(("requests in flight while each killed replica was being replaced",
                              [[x["deployment"], x["recovery_s"], x["while_down"]["requests"],
                                x["while_down"]["answered"], x["while_down"]["p50_ms_200"],
                                x["while_down"]["max_ms_200"]] for x in k["kills"]],
                              ["deployment", "recovery s", "requests in flight", "answered by status",
                               "p50 ms of 200s", "max ms of 200s"]))
                rows.append(["kill 1 replica of each deployment", res.sent, res.summary()["answered"], res.lost,
                             res.missing_retry_after, res.pct(50), res.pct(99),
                             f"recovery: {rec}; in flight on the killed Ingress: "
                             f"{k['in_flight_on_killed_ingress'] or 0}; other errors: {k['other_errors'] or 0}"])
            elif phase == "stall":
                report["stall"] = run_stall_phase(url, prompts, args)
                s = report["stall"]
                rows.append([s["label"], s["sent"], s["answered"], s["lost"], 0, s["p50_ms"], s["p99_ms"],
                             f"intent sources {s['intent_sources']}"])
                if s.get("parts"):
                    extra.append((f"stall phase by part (intent deadline {s['deadline_ms']} ms; warm-up "
                                  f"{s['warmup']})", [[p["part"], p["sent"], p["answered"], p["lost"], p["engine"],
                                                        p["fallback"], p["sources"], p["p50_ms"], p["p99_ms"],
                                                        p["max_ms"], p["wall_s"]] for p in s["parts"]],
                                  ["part", "sent", "answered by status", "lost", "intent from the engine",
                                   "intent from the fallback", "sources", "p50 ms", "p99 ms", "max ms", "s"]))
            elif phase == "soak":
                report["soak"], soak_rows = run_soak_phase(url, prompts, args, cfg, restart_db)
                s = report["soak"]
                rows.append([f"soak {args.soak_minutes:g} min at {s['rate']:.1f}/s", s["sent"], s["answered"], s["lost"],
                             s["missing_retry_after"], s["p50_ms"], s["p99_ms"],
                             f"{s['store_fault']} at {s['store_kill'].get('at_s')}s, recovered in "
                             f"{s['store_kill'].get('recovery_s')}s; {s['store_check']}"])
                extra.append(("RSS per process, sampled each minute (growth from the first sample after 2 min "
                              "of warm-up to the last)",
                              [[r["process"], r["samples"], r["first_mib"], r["after_warmup_mib"], r["last_mib"],
                                r["max_mib"], r["growth_pct"], r.get("cpu_cores"), r.get("idle_cpu_cores")]
                               for r in soak_rows],
                              ["process", "samples", "first MiB", "after warm-up MiB", "last MiB", "max MiB",
                               "growth %", "CPU cores (soak average)", "CPU cores (idle, before)"]))
            report.setdefault("load_avg", {})[phase] = {"start": la0, "end": _load_avg(),
                                                        "seconds": round(time.perf_counter() - t, 1)}
            write_json(args.out, report)  # partial results survive a later phase's failure
    finally:
        if ray.is_initialized():
            serve.shutdown()
            ray.shutdown()
    print(table(["phase", "sent", "answered by status", "lost", "429/503 without Retry-After", "p50 ms", "p99 ms",
                 "notes"], rows))
    for title, trows, header in extra:
        print(f"\n{title}\n")
        print(table(header, trows))
    print(f"\nload average per phase (1/5/15 min at start -> end): {report.get('load_avg')}")
    write_json(args.out, report)
    print(f"\nresults written to {args.out}")
    lost = sum(v.get("lost", 0) for v in report.values() if isinstance(v, dict))
    return 1 if lost else 0


def run_soak_phase(url: str, prompts: list[str], args, cfg: AppConfig, restart_db=None) -> tuple[dict, list[dict]]:
    from serving.tools.bench.soak import check_store, cpu_share, rss_growth, run_soak

    if args.soak_rate == "auto":  # capacity now, on this graph: 60 s closed loop at the sustained concurrency
        probe = asyncio.run(_load(url, prompts, 10**6, args.concurrency, 60))
        capacity = probe.throughput
        rate = capacity / 2
    else:
        capacity, rate = None, float(args.soak_rate)
    if restart_db is not None:  # the database server itself: the OutcomeStore replica stays, its connection breaks
        fault = f"{cfg.store.backend} server restart"

        def kill_store():
            t = time.perf_counter()
            restart_db()
            return round(time.perf_counter() - t, 2)
    else:
        fault = "OutcomeStore replica kill"

        def kill_store():
            return kill_replica("OutcomeStore", 1)["recovery_s"]
    res = run_soak(url, _body(prompts), _client_headers, rate, args.soak_minutes, kill_store=kill_store)
    lr = res.playlists
    growth = rss_growth(res.rss)
    share = cpu_share(res.cpu)
    for row in growth:
        row["cpu_cores"] = share.get(row["process"])
        row["idle_cpu_cores"] = res.idle_cpu.get(row["process"])
    out = {**lr.summary(), "rate": rate, "measured_capacity_rps": capacity, "late_arrivals": res.late,
           "likes_sent": res.likes_sent, "likes_counted": res.likes_counted, "like_errors": dict(res.like_errors),
           "store_fault": fault, "store_kill": res.store_kill, "store_check": check_store(cfg.store, res),
           "rss": growth, "rss_samples": [(round(m, 2), v) for m, v in res.rss]}
    return out, growth


def _engine_processes() -> list:
    """vLLM engine cores of *this* run: descendants of this process (the Ray it started),
    never another user's or another session's engine on the same machine."""
    import psutil

    from serving.shutdown import descendants

    procs = []
    for p in descendants():
        try:
            text = " ".join([p.name()] + p.cmdline())
        except psutil.Error:
            continue
        if "EngineCore" in text:
            procs.append(p)
    return procs


def run_stall_phase(url: str, prompts: list[str], args) -> dict:
    """A second app with the real vLLM backend (tiny random-weight model made here, CPU
    build) and a 1.5 s deadline. Mid-load the engine core process is frozen with SIGSTOP
    (a real stall, not a simulated one) and thawed with SIGCONT."""
    import importlib.util
    import signal as sig

    from ray import serve

    from serving.app import build_app
    from serving.client import NO_RETRIES, SegueClient, SegueError
    from serving.intent.tiny_model import cached_tiny_model

    label = "stall the vLLM engine (SIGSTOP mid-load)"
    if importlib.util.find_spec("vllm") is None:
        return {"label": label + ": not run, vLLM not installed (pip install -e '.[llm]')", "sent": 0,
                "answered": {}, "lost": 0, "p50_ms": float("nan"), "p99_ms": float("nan"), "intent_sources": {}}
    base = url.rsplit("/v1/", 1)[0]
    # It runs beside the main app, whose replicas already reserve 1.6 of a 2-CPU node: reserving
    # CPUs too would leave some of its replicas unschedulable (serve.run then waits forever).
    cfg = load_config(args.port, replicas=1, num_cpus=0.0, intent={
        "backend": "vllm", "deadline_ms": 1500,
        "vllm": {"model": str(cached_tiny_model()), "max_model_len": 4096, "max_tokens": 1024}})
    cfg = cfg.model_copy(update={"name": "segue-stall", "route_prefix": "/stall"})
    serve.run(build_app(cfg), name=cfg.name, route_prefix=cfg.route_prefix, blocking=False)
    stall_url = f"{base}/stall/v1/playlists"
    t_up = time.perf_counter()
    warm = {"llm_seen": False}
    with SegueClient(f"{base}/stall", timeout_s=60, retry=NO_RETRIES) as probe:
        # Until an intent comes from the LLM (bounded: on a loaded box the tiny engine may never
        # beat the deadline; the parts then show that, and the run still ends).
        while time.perf_counter() - t_up < args.stall_warmup_s:
            try:
                if probe.playlist("jazz for a rainy sunday").intent.source.value == "llm":
                    warm["llm_seen"] = True
                    break
            except SegueError:
                pass
            time.sleep(2)
    warm["seconds"] = round(time.perf_counter() - t_up, 1)
    n, cap, conc = args.stall_requests, args.stall_part_seconds, args.stall_concurrency
    parts = {}
    try:
        parts["engine running"] = stall_intent_engine(stall_url, prompts, n, conc, cap)
        engines = _engine_processes()
        for p in engines:
            p.send_signal(sig.SIGSTOP)
        try:
            parts[f"engine stalled ({len(engines)} process SIGSTOP)"] = stall_intent_engine(
                stall_url, prompts, n, conc, cap)
        finally:
            for p in engines:
                p.send_signal(sig.SIGCONT)
        time.sleep(3)
        parts["engine resumed"] = stall_intent_engine(stall_url, prompts, n, conc, cap)
    finally:
        serve.delete(cfg.name)
    res = LoadResult()
    sources_by_part, rows = {}, []
    for name, part in parts.items():
        r, src = part["result"], part["intent_sources"]
        res.sent += r.sent
        res.lost += r.lost
        res.statuses.update(r.statuses)
        res.latencies_ms += r.latencies_ms
        sources_by_part[name] = src
        llm = src.get("llm", 0)
        rows.append({"part": name, "sent": r.sent, "answered": dict(sorted(r.statuses.items())), "lost": r.lost,
                     "engine": llm, "fallback": sum(src.values()) - llm, "sources": dict(sorted(src.items())),
                     "p50_ms": round(r.pct(50), 1), "p99_ms": round(r.pct(99), 1),
                     "max_ms": round(max(r.latencies_ms), 1) if r.latencies_ms else None, "wall_s": round(r.wall_s, 1)})
    return {"label": label, "sent": res.sent, "answered": dict(res.statuses), "lost": res.lost,
            "p50_ms": res.pct(50), "p99_ms": res.pct(99), "intent_sources": sources_by_part, "parts": rows,
            "warmup": warm, "deadline_ms": cfg.intent.deadline_ms}


if __name__ == "__main__":
    sys.exit(main())
