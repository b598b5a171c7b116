"""Store throughput: served records and feedback through the OutcomeService (group commit),
on SQLite (a WAL file) and, given a URL, PostgreSQL. Markdown table on stdout.

    python -m serving.tools.store_bench [--writes 20000] [--concurrency 64] [--postgres-url URL]

A served playlist and a like on it are two writes; `concurrency` callers submit at once
(as many Ingress replicas do), and the writer gathers them into transactions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time

from serving.experiments.outcome_service import OutcomeService
from serving.experiments.outcome_store import OutcomeStore
from serving.experiments.outcomes import Served
from serving.store.config import PostgresConfig, StoreConfig, WriterConfig
from serving.store.factory import open_database

SPLIT = {"control": 0.5, "canary": 0.5}


async def _run(svc: OutcomeService, n: int, concurrency: int) -> dict:
    sem = asyncio.Semaphore(concurrency)
    lat: list[float] = []

    async def one(i: int) -> None:
        async with sem:
            t = time.perf_counter()
            pid = f"bench-{os.getpid()}-{i}"
            await svc.record_served(Served(pid, tuple(f"t{j}" for j in range(20)), "control" if i % 2 else "canary",
                                           "bench", SPLIT, latency_ms=50.0, intent_fallback=False))
            await svc.feedback(pid, "t3", "like")
            lat.append((time.perf_counter() - t) * 1000)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    wall = time.perf_counter() - t0
    t1 = time.perf_counter()
    summary = await svc.summary("bench", "control")
    read_ms = (time.perf_counter() - t1) * 1000
    lat.sort()
    st = svc.writer.stats
    return {"writes/s": round(2 * n / wall), "batches": st.batches, "writes/batch": round(2 * n / max(1, st.batches), 1),
            "p50 ms": round(lat[len(lat) // 2], 1), "p99 ms": round(lat[int(len(lat) * 0.99)], 1),
            "summary ms": round(read_ms, 1), "served": sum(a["served"] for a in summary["arms"].values())}


def bench(cfg: StoreConfig, n: int, concurrency: int) -> dict:
    db = open_database(cfg)
    svc = OutcomeService(OutcomeStore(db, cfg.retention), cfg.writer, feedback_wait_s=0)
    try:
        return asyncio.run(_run(svc, n, concurrency))
    finally:
        db.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--writes", type=int, default=20_000, help="served records (each followed by one like)")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--postgres-url", default=None, help="also measure PostgreSQL (e.g. postgresql://u@127.0.0.1:5432/db)")
    args = ap.parse_args(argv)
    n = args.writes // 2
    writer = WriterConfig()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        rows.append(("sqlite (WAL file)", bench(StoreConfig(sqlite_path=f"{d}/bench.db", writer=writer), n, args.concurrency)))
    if args.postgres_url:
        rows.append(("postgres", bench(StoreConfig(backend="postgres", postgres=PostgresConfig(url=args.postgres_url),
                                                   writer=writer), n, args.concurrency)))
    cols = list(rows[0][1])
    print(f"{args.writes} writes ({n} served + {n} likes), {args.concurrency} concurrent callers, "
          f"loadavg {open('/proc/loadavg').read().split()[0]}")
    print("| backend | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for name, r in rows:
        print(f"| {name} | " + " | ".join(str(r[c]) for c in cols) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
