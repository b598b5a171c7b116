"""Shadow (mirror) arm: a sampled copy of live traffic re-run through another arm after
the response is sent. Its result is compared with the live one and recorded, never
returned; at most `max_in_flight` run at once and further samples are dropped, so a
slow shadow can never queue up behind, or slow down, the live path."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Awaitable, Callable

from serving.experiments.assignment import unit_hash

log = logging.getLogger(__name__)


def sampled(request_id: str, rate: float, salt: str = "shadow") -> bool:
    """Deterministic per request id, so a retried request is mirrored (or not) alike."""
    return rate > 0 and unit_hash(salt, request_id) < rate


def overlap(live: list[str], shadow: list[str]) -> float:
    """Share of the live playlist's tracks that the shadow arm also returned."""
    if not live:
        return 1.0 if not shadow else 0.0
    return len(set(live) & set(shadow)) / len(live)


Recorder = Callable[[bool, float, float, bool], Awaitable[None]]  # (ok, overlap, latency_ms, dropped)


class ShadowRunner:
    def __init__(self, max_in_flight: int):
        self.max_in_flight = max_in_flight
        self._running: set[asyncio.Task] = set()
        self._aux: set[asyncio.Task] = set()

    @property
    def in_flight(self) -> int:
        return len(self._running)

    def submit(self, run: Callable[[], Awaitable[list[str]]], live_track_ids: list[str], record: Recorder) -> bool:
        """Start the shadow run in the background; False (and a 'dropped' record) when full."""
        if len(self._running) >= self.max_in_flight:
            self._keep(self._aux, asyncio.ensure_future(record(False, 0.0, 0.0, True)))
            return False
        self._keep(self._running, asyncio.ensure_future(self._run(run, live_track_ids, record)))
        return True

    @staticmethod
    def _keep(tasks: set, task: asyncio.Task) -> None:
        # Hold a reference until done: the event loop only keeps weak ones.
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def _run(self, run, live_track_ids: list[str], record: Recorder) -> None:
        t0 = time.perf_counter()
        try:
            shadow_ids = await run()
            ok, ov = True, overlap(live_track_ids, shadow_ids)
        except Exception as e:  # recorded as a shadow error; the listener never sees it
            log.warning("shadow run failed: %r", e)
            ok, ov = False, 0.0
        try:
            await record(ok, ov, (time.perf_counter() - t0) * 1000, False)
        except Exception as e:
            log.warning("recording a shadow result failed: %r", e)
