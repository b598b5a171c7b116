"""A bounded HTTP load generator for benchmarks and load tests (loopback only).

Every request is accounted for: answered with a status, or lost (a transport error
or no answer before the client timeout). Nothing is retried behind the caller's back.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlparse

import httpx
import numpy as np

_LOOPBACK = ("127.", "localhost", "[::1]", "::1")


def assert_loopback(url: str) -> None:
    host = urlparse(url).hostname or ""
    if not host.startswith(_LOOPBACK) and host != "localhost":
        raise ValueError(f"load is only ever sent to this machine; {url} is not a loopback address")


@dataclass
class LoadResult:
    sent: int = 0
    statuses: Counter = field(default_factory=Counter)
    lost: int = 0
    lost_errors: Counter = field(default_factory=Counter)
    missing_retry_after: int = 0  # 429/503 answers without a Retry-After header
    latencies_ms: list[float] = field(default_factory=list)  # of 200 answers
    wall_s: float = 0.0
    timeline: list[tuple[float, int, float]] = field(default_factory=list)  # (t since start, status|-1, ms)

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    @property
    def throughput(self) -> float:
        return self.ok / self.wall_s if self.wall_s else 0.0

    def summary(self) -> dict:
        return {
            "sent": self.sent, "answered": dict(sorted(self.statuses.items())), "lost": self.lost,
            "lost_errors": dict(self.lost_errors), "missing_retry_after": self.missing_retry_after,
            "ok_rps": round(self.throughput, 2), "p50_ms": round(self.pct(50), 1),
            "p99_ms": round(self.pct(99), 1), "wall_s": round(self.wall_s, 2),
        }


async def run_load(
    url: str,
    make_body: Callable[[int], dict],
    *,
    requests: int,
    concurrency: int,
    max_seconds: float = 600,
    timeout_s: float = 60,
    headers: dict | Callable[[int], dict] | None = None,
) -> LoadResult:
    """Send `requests` POSTs with `concurrency` workers, stopping early after `max_seconds`."""
    assert_loopback(url)
    res = LoadResult()
    counter = iter(range(requests))
    start = time.perf_counter()
    deadline = start + max_seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        for i in counter:
            if time.perf_counter() > deadline:
                return
            res.sent += 1
            t0 = time.perf_counter()
            try:
                r = await client.post(url, json=make_body(i), headers=headers(i) if callable(headers) else headers)
            except (httpx.HTTPError, OSError) as e:
                res.lost += 1
                res.lost_errors[type(e).__name__] += 1
                res.timeline.append((t0 - start, -1, (time.perf_counter() - t0) * 1000))
                continue
            ms = (time.perf_counter() - t0) * 1000
            res.statuses[r.status_code] += 1
            res.timeline.append((t0 - start, r.status_code, ms))
            if r.status_code == 200:
                res.latencies_ms.append(ms)
            elif r.status_code in (429, 503) and "retry-after" not in r.headers:
                res.missing_retry_after += 1

    async with httpx.AsyncClient(timeout=timeout_s, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    res.wall_s = time.perf_counter() - start
    return res


def prompts_from_dialogs(path: str | None, limit: int = 400) -> list[str]:
    """Realistic prompts: CPCD first turns when the file is there, else a built-in list."""
    import json
    from pathlib import Path

    if path and Path(path).is_file():
        out = []
        for line in Path(path).read_text().splitlines()[:limit]:
            q = json.loads(line)["turns"][0]["user_query"].strip()
            if q:
                out.append(q[:1900])
        if out:
            return out
    return [
        "heavy metal to work out to", "rainy sunday jazz, nothing too upbeat", "80s synthpop for a morning run",
        "sad country songs", "chill lofi beats to study", "songs from Lojay", "classical piano for sleep",
        "party hip hop from the 2000s", "road trip rock anthems", "romantic r&b for dinner",
    ]
