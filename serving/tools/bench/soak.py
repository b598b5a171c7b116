"""scripts/load --phases soak: a long steady run at a fraction of measured capacity.

Open loop: requests arrive at a fixed rate whatever the answers do (a closed loop would slow
down with the server and hide queueing). Every answered playlist gets a like on its first
track. Each minute the RSS of every Serve replica (and the proxy and controller) is sampled;
halfway through the OutcomeStore replica is killed (or, with PostgreSQL, the database server
restarted). At the end the store's database is read
directly: every playlist answered 200 must have its served record, and every like answered
`counted: true` its feedback row. Growth and losses are reported, never retried away.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from serving.client import NO_RETRIES, AsyncSegueClient, RetryPolicy, SegueAPIError, SegueError
from serving.store.config import StoreConfig
from serving.store.factory import open_database
from serving.tools.bench.loadgen import LoadResult, assert_loopback

_TITLE = re.compile(r"ray::(?:ServeReplica:([^:\s]+):([A-Za-z]+)|(ProxyActor|ServeController))")
# Feedback is retried as a patient client would: the store may be restarting (503 + Retry-After).
FEEDBACK_RETRY = RetryPolicy(attempts=8, default_wait_s=1.0, max_wait_s=5.0)


def replica_rss(cpu: dict[str, float] | None = None) -> dict[str, int]:
    """'<Deployment> pid <n>' -> RSS bytes, for the Serve processes this process started;
    their CPU seconds so far go into `cpu` when given."""
    import psutil

    from serving.shutdown import descendants

    out = {}
    for p in descendants():
        try:
            m = _TITLE.match(" ".join(p.cmdline()) or p.name())
            if m:
                name = f"{m.group(2) or m.group(3)} pid {p.pid}"
                out[name] = p.memory_info().rss
                if cpu is not None:
                    t = p.cpu_times()
                    cpu[name] = t.user + t.system
        except psutil.Error:
            continue
    return out


@dataclass
class SoakResult:
    playlists: LoadResult = field(default_factory=LoadResult)
    likes_sent: int = 0
    likes_counted: int = 0
    like_errors: Counter = field(default_factory=Counter)
    served_ok: list[str] = field(default_factory=list)  # playlist ids answered 200
    counted: list[tuple[str, str]] = field(default_factory=list)  # (playlist id, track id) liked, counted
    rss: list[tuple[float, dict[str, int]]] = field(default_factory=list)  # (minute, rss by process)
    cpu: list[tuple[float, dict[str, float]]] = field(default_factory=list)  # (minute, CPU s by process)
    store_kill: dict = field(default_factory=dict)
    late: int = 0  # arrivals that found `max_in_flight` requests already open (sent anyway, late)
    idle_cpu: dict[str, float] = field(default_factory=dict)  # cores per process before any soak traffic


def idle_cpu(seconds: float) -> dict[str, float]:
    """Per process: cores used while no request arrives (what a replica costs just by being there)."""
    a: dict[str, float] = {}
    replica_rss(a)
    time.sleep(seconds)
    b: dict[str, float] = {}
    replica_rss(b)
    return {n: round((b[n] - a[n]) / seconds, 4) for n in a if n in b}


def run_soak(url: str, body, headers, rate: float, minutes: float, kill_store, max_in_flight: int = 128,
             sample_s: float = 60.0, idle_s: float = 30.0) -> SoakResult:
    """`kill_store()` kills the OutcomeStore replica and returns its recovery in seconds."""
    assert_loopback(url)
    res = SoakResult()
    res.idle_cpu = idle_cpu(idle_s) if idle_s else {}
    stop = threading.Event()
    t0 = time.perf_counter()

    def sample():
        cpu: dict[str, float] = {}
        minute = (time.perf_counter() - t0) / 60
        res.rss.append((minute, replica_rss(cpu)))
        res.cpu.append((minute, cpu))

    def sampler():
        while True:
            sample()
            if stop.wait(sample_s):
                return

    def killer():
        if not stop.wait(minutes * 30):
            t = time.perf_counter() - t0
            res.store_kill = {"at_s": round(t, 1), "recovery_s": kill_store()}

    threads = [threading.Thread(target=f, daemon=True) for f in (sampler, killer)]
    for th in threads:
        th.start()
    asyncio.run(_open_loop(url, body, headers, rate, minutes * 60, max_in_flight, res))
    stop.set()
    for th in threads:
        th.join(timeout=180)
    sample()
    return res


async def _open_loop(url, body, headers, rate, seconds, max_in_flight, res: SoakResult) -> None:
    base = url.rpartition("/v1/")[0]
    lr = res.playlists
    open_now = 0
    async with AsyncSegueClient(base, timeout_s=60, retry=NO_RETRIES, max_connections=max_in_flight) as client, \
            AsyncSegueClient(base, timeout_s=60, retry=FEEDBACK_RETRY, max_connections=32) as fb:

        async def one(i: int) -> None:
            nonlocal open_now
            open_now += 1
            t = time.perf_counter()
            b = dict(body(i))
            try:
                p = await client.playlist(b.pop("prompt"), **b, headers=headers(i))
            except SegueAPIError as e:
                lr.statuses[e.status] += 1
                if e.status in (429, 503) and e.retry_after_s is None:
                    lr.missing_retry_after += 1
                return
            except SegueError as e:
                lr.lost += 1
                lr.lost_errors[type(e.__cause__ or e).__name__] += 1
                return
            finally:
                open_now -= 1
            lr.statuses[200] += 1
            lr.latencies_ms.append((time.perf_counter() - t) * 1000)
            res.served_ok.append(p.playlist_id)
            if not p.tracks:
                return
            res.likes_sent += 1
            try:
                ack = await fb.feedback(p.playlist_id, p.tracks[0].track_id, "like", headers=headers(i))
            except SegueAPIError as e:
                res.like_errors[e.status] += 1
                return
            except SegueError as e:
                res.like_errors[type(e.__cause__ or e).__name__] += 1
                return
            if ack.counted:
                res.likes_counted += 1
                res.counted.append((p.playlist_id, p.tracks[0].track_id))

        start = time.perf_counter()
        tasks, i = [], 0
        while (now := time.perf_counter()) - start < seconds:
            due = start + i / rate
            if due > now:
                await asyncio.sleep(due - now)
            if open_now >= max_in_flight:
                res.late += 1
            lr.sent += 1
            tasks.append(asyncio.create_task(one(i)))
            i += 1
        await asyncio.gather(*tasks)
        lr.wall_s = time.perf_counter() - start


_LIKES = "SELECT playlist_id, track_id FROM feedback_events WHERE event = 'like'"


def check_store(store: StoreConfig, res: SoakResult, settle_s: float = 3.0) -> dict:
    """Reads the database itself (not the API): what was acknowledged must be there."""
    time.sleep(settle_s)  # group commit: the last served records are a flush away
    if store.backend == "sqlite":  # read-only, so the check cannot create or change the file
        con = sqlite3.connect(f"file:{Path(store.sqlite_path).expanduser()}?mode=ro", uri=True)
        try:
            served = {r[0] for r in con.execute("SELECT playlist_id FROM served_playlists")}
            liked = {(r[0], r[1]) for r in con.execute(_LIKES)}
        finally:
            con.close()
    else:
        db = open_database(store, run_migrations=False)
        try:
            with db.transaction() as tx:
                served = {r[0] for r in tx.fetchall("SELECT playlist_id FROM served_playlists")}
                liked = {(r[0], r[1]) for r in tx.fetchall(_LIKES)}
        finally:
            db.close()
    return {"playlists_200": len(res.served_ok), "served_records_missing": sum(p not in served for p in res.served_ok),
            "likes_counted": len(res.counted), "likes_missing": sum(k not in liked for k in res.counted)}


def rss_growth(samples: list[tuple[float, dict[str, int]]], warmup_min: float = 2.0) -> list[dict]:
    """Per process: RSS after warm-up, at the end, and growth; processes that started late
    (a replacement replica) are measured from their own first sample after warm-up."""
    series: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for minute, rss in samples:
        for name, b in rss.items():
            series[name].append((minute, b))
    rows = []
    for name, pts in sorted(series.items()):
        warm = [b for m, b in pts if m >= pts[0][0] + warmup_min] or [pts[-1][1]]
        first, last = warm[0], pts[-1][1]
        rows.append({"process": name, "samples": len(pts), "first_mib": round(pts[0][1] / 2**20, 1),
                     "after_warmup_mib": round(first / 2**20, 1), "last_mib": round(last / 2**20, 1),
                     "max_mib": round(max(b for _, b in pts) / 2**20, 1),
                     "growth_pct": round((last - first) * 100 / first, 2) if first else None})
    return rows


def cpu_share(samples: list[tuple[float, dict[str, float]]]) -> dict[str, float]:
    """Per process: the share of one core it used between its first and last sample."""
    first: dict[str, tuple[float, float]] = {}
    last: dict[str, tuple[float, float]] = {}
    for minute, cpu in samples:
        for name, sec in cpu.items():
            first.setdefault(name, (minute, sec))
            last[name] = (minute, sec)
    return {n: round((last[n][1] - first[n][1]) / ((last[n][0] - first[n][0]) * 60), 3)
            for n in first if last[n][0] > first[n][0]}
