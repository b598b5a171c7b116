"""Fair-share probe against a running Segue: a polite client's playlist latency alone, then
while one greedy client loops N concurrent length-100 playlists (each client its own
loopback source address, so the server tells them apart), and the greedy client's statuses.

    python -m serving.tools.fair_share --url http://127.0.0.1:8000 [--greedy 7] [--seconds 3]
Loopback only (sources 127.0.0.3 / 127.0.0.4). Numbers on a shared box are noisy: print
`cat /proc/loadavg` next to them."""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import threading
import time
from urllib.parse import urlsplit

GREEDY_SRC, POLITE_SRC = "127.0.0.3", "127.0.0.4"


def _post(host: str, port: int, path: str, src: str, payload: dict) -> tuple[int, float]:
    c = http.client.HTTPConnection(host, port, timeout=120, source_address=(src, 0))
    t0 = time.perf_counter()
    c.request("POST", path, json.dumps(payload), {"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    c.close()
    return r.status, (time.perf_counter() - t0) * 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--greedy", type=int, default=7, help="concurrent requests of the greedy client")
    ap.add_argument("--polite", type=int, default=12, help="sequential requests of the polite client per phase")
    ap.add_argument("--seconds", type=float, default=3.0, help="greed before the polite client measures")
    a = ap.parse_args(argv)
    u = urlsplit(a.url)
    if u.hostname not in ("127.0.0.1", "localhost"):
        ap.error("--url must be a loopback address (the probe sends from 127.0.0.3/127.0.0.4)")
    path = u.path.rstrip("/") + "/v1/playlists"
    polite = lambda n: [_post(u.hostname, u.port, path, POLITE_SRC, {"prompt": "quiet piano for reading", "length": 20})
                        for _ in range(n)]
    polite(3)  # warm
    alone = polite(a.polite)
    stop, greedy = threading.Event(), []

    def greed():
        while not stop.is_set():
            status, _ = _post(u.hostname, u.port, path, GREEDY_SRC, {"prompt": "long road trip rock anthems", "length": 100})
            greedy.append(status)
            if status == 429:
                time.sleep(0.05)

    threads = [threading.Thread(target=greed) for _ in range(a.greedy)]
    for t in threads:
        t.start()
    time.sleep(a.seconds)
    during = polite(a.polite)
    stop.set()
    for t in threads:
        t.join()
    p50 = lambda xs: statistics.median([ms for s, ms in xs if s == 200] or [float("nan")])
    print(f"| polite p50 alone | polite p50 with {a.greedy} greedy | slowdown | polite statuses | greedy statuses |")
    print("|---|---|---|---|---|")
    print(f"| {p50(alone):.0f} ms | {p50(during):.0f} ms | x{p50(during) / p50(alone):.1f} | "
          f"{sorted({s for s, _ in during})} | { {s: greedy.count(s) for s in sorted(set(greedy))} } |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
