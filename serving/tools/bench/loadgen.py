"""A bounded HTTP load generator for benchmarks and load tests (loopback only).

Every request is accounted for: answered with a status, or lost (a transport error
or no answer before the client timeout). Requests go through the typed client
(serving.client) with retries off: nothing is retried behind the caller's back, and a
200 whose body is not a valid answer counts as an error, not a success.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlparse

import numpy as np

from serving.client import NO_RETRIES, AsyncSegueClient, SegueAPIError, SegueConnectionError, SegueError

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
    transport=None,
    stop=None,
    honor_retry_after: bool = False,
) -> LoadResult:
    """Send `requests` POSTs with `concurrency` workers, stopping early after `max_seconds`
    or once `stop` (a threading.Event) is set. `honor_retry_after`: a worker answered 429/503
    with Retry-After waits that long (at most 5 s) before its next request, as a real client
    does, instead of hammering at once (each answer is still counted as it was)."""
    assert_loopback(url)
    base, _, route = url.rpartition("/v1/")
    if route not in ("playlists", "search"):
        raise ValueError(f"run_load sends POST /v1/playlists or /v1/search; got {url}")
    res = LoadResult()
    counter = iter(range(requests))
    start = time.perf_counter()
    deadline = start + max_seconds

    async def worker(client: AsyncSegueClient) -> None:
        call = client.playlist if route == "playlists" else client.search
        backoff = 0.0
        for i in counter:
            if time.perf_counter() > deadline or (stop is not None and stop.is_set()):
                return
            res.sent += 1
            t0 = time.perf_counter()
            body = dict(make_body(i))
            text = body.pop("prompt" if route == "playlists" else "query")
            try:
                await call(text, **body, headers=headers(i) if callable(headers) else headers)
                status = 200
            except SegueAPIError as e:
                status = e.status
                if status in (429, 503) and e.retry_after_s is None:
                    res.missing_retry_after += 1
                elif status in (429, 503) and honor_retry_after:
                    backoff = min(float(e.retry_after_s), 5.0)
            except SegueConnectionError as e:
                res.lost += 1
                res.lost_errors[type(e.__cause__ or e).__name__] += 1
                res.timeline.append((t0 - start, -1, (time.perf_counter() - t0) * 1000))
                continue
            except SegueError:  # a 2xx with a body that is not the API's answer
                status = -2
            ms = (time.perf_counter() - t0) * 1000
            res.statuses[status] += 1
            res.timeline.append((t0 - start, status, ms))
            if status == 200:
                res.latencies_ms.append(ms)
            if backoff:
                await asyncio.sleep(backoff)
                backoff = 0.0

    async with AsyncSegueClient(base, timeout_s=timeout_s, retry=NO_RETRIES, max_connections=concurrency,
                                transport=transport) as client:
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
