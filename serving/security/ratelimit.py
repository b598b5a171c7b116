"""Per-client token-bucket rate limiting (pure logic; the clock is injected).

Limits are per Ingress replica: with N replicas a client may get up to N times the
configured rate. That is documented rather than hidden; a shared limiter would put
a network hop on every request.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    def __init__(self, rate_per_s: float, burst: int, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self.rate = rate_per_s
        self.burst = burst
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def acquire(self, client: str) -> float:
        """0.0 if the request may go ahead, else the seconds until it could."""
        now = self._clock()
        b = self._buckets.get(client)
        if b is None:
            b = _Bucket(float(self.burst), now)
            self._buckets[client] = b
            if len(self._buckets) > self._max_clients:  # bounded memory: forget the stalest client
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(client)
            b.tokens = min(self.burst, b.tokens + (now - b.updated) * self.rate)
            b.updated = now
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return 0.0
        return (1.0 - b.tokens) / self.rate

    @staticmethod
    def retry_after_header(wait_s: float) -> str:
        return str(max(1, math.ceil(wait_s)))
