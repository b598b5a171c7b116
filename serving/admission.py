"""The Ingress replica's global admission bound: past it, answer 503 + Retry-After at once.

Queueing past capacity only turns every answer slow (measured: at concurrency 32 the old
graph answered everything, with p50 4.2 s). Rejecting the excess keeps the answered ones
fast and tells clients when to come back. The bound adapts (AIMD, as TCP does to a link it
cannot see): each request answered within `target_latency_s` raises it by 1/bound; an answer
slower than that cuts it by a tenth, at most once per `target_latency_s`. (A cut in
proportion to how slow the answer was shortened the step onto overload but held 20-40 % less
throughput past capacity, in smaller batches: docs/performance.md section 7.) It never leaves
[min_in_flight, max_in_flight], and it does not decay while the replica is idle, so a burst
after a quiet spell meets the last bound that held. Per-client limits live in security/."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator

from serving.config import AdmissionConfig
from serving.edge.config import EdgeShedding
from serving.errors import Overloaded

DECREASE = 0.9


class Admission:
    def __init__(self, config: AdmissionConfig | EdgeShedding, replica_slots: int | None = None,
                 clock: Callable[[], float] = time.monotonic, where: str = "on this replica"):
        """`config`: the Ingress's AdmissionConfig, or the proxy's EdgeShedding (same fields).
        `replica_slots` is the Ingress's max_ongoing_requests: the bound stays one below it,
        so the excess reaches this check (and gets its Retry-After) instead of Serve's queue."""
        self.config = config
        self.max_bound = min(config.max_in_flight, replica_slots - 1) if replica_slots and replica_slots > 1 \
            else config.max_in_flight
        self.min_bound = min(config.min_in_flight, self.max_bound)
        self._limit = float(self.max_bound)
        self._clock = clock
        self._last_cut = float("-inf")
        self.in_flight = 0
        self.rejected = 0
        self._where = where

    @property
    def bound(self) -> int:
        return int(self._limit) if self.config.target_latency_s else self.max_bound

    def _completed(self, seconds: float) -> None:
        target = self.config.target_latency_s
        if not target:
            return
        if seconds <= target:
            self._limit = min(float(self.max_bound), self._limit + 1.0 / max(self._limit, 1.0))
        else:
            now = self._clock()
            if now - self._last_cut >= target:  # one cut per round trip, not one per slow answer
                self._limit = max(float(self.min_bound), self._limit * DECREASE)
                self._last_cut = now

    def enter(self) -> "Ticket":
        """Past the bound, Overloaded (503 + Retry-After); else a ticket for `leave`."""
        c = self.config
        bound = self.bound
        if c.enabled and self.in_flight >= bound:
            self.rejected += 1
            raise Overloaded(f"the service is at capacity ({bound} requests in flight {self._where}); "
                             f"retry after {c.retry_after_s}s", retry_after_s=c.retry_after_s)
        self.in_flight += 1
        return Ticket(self._clock())

    def leave(self, ticket: "Ticket", counted: bool = True) -> None:
        """`counted=False` for an answer that says nothing about capacity (an error, a refusal
        from further in): a fast refusal must not raise the bound."""
        self.in_flight -= 1
        if counted:
            self._completed(self._clock() - ticket.started)

    @contextmanager
    def admit(self) -> Iterator["Ticket"]:
        ticket = self.enter()
        try:
            yield ticket
        except BaseException:
            self.leave(ticket, counted=False)
            raise
        self.leave(ticket)


class Ticket:
    __slots__ = ("started",)

    def __init__(self, started: float):
        self.started = started
