"""The Ingress sends served records in batches: one sink call per window, nothing dropped."""

import asyncio

from serving.experiments.outcomes import Served
from serving.experiments.served_batch import ServedBatcher


def served(pid: str) -> Served:
    return Served(playlist_id=pid, track_ids=("t1",), arm="control", experiment_id="e", weights={"control": 1.0},
                  latency_ms=1.0, intent_fallback=False, user_key="u")


def test_records_of_one_window_go_out_in_one_call_and_later_ones_in_the_next():
    calls: list[list[str]] = []

    async def send(batch):
        calls.append([r.playlist_id for r in batch])

    async def go():
        tasks = []
        b = ServedBatcher(send, lambda c: tasks.append(asyncio.ensure_future(c)), window_s=0.01)
        for i in range(5):
            b.add(served(f"p{i}"))
        assert calls == [] and b.pending == 5  # nothing sent before the window closes
        await asyncio.sleep(0.03)
        b.add(served("p5"))
        await asyncio.sleep(0.03)
        await asyncio.gather(*tasks)

    asyncio.run(go())
    assert calls == [["p0", "p1", "p2", "p3", "p4"], ["p5"]]


def test_a_full_batch_is_sent_at_once_without_waiting_for_the_window():
    calls: list[int] = []

    async def send(batch):
        calls.append(len(batch))

    async def go():
        tasks = []
        b = ServedBatcher(send, lambda c: tasks.append(asyncio.ensure_future(c)), window_s=10.0, max_batch=3)
        for i in range(7):
            b.add(served(f"p{i}"))
        await asyncio.gather(*tasks)
        assert b.pending == 1
        b.flush()
        await asyncio.gather(*tasks)

    asyncio.run(go())
    assert calls == [3, 3, 1]


def test_settle_sends_what_is_pending_and_waits_for_sends_in_flight():
    landed: list[str] = []

    async def send(batch):
        await asyncio.sleep(0.02)
        landed.extend(r.playlist_id for r in batch)

    async def go():
        b = ServedBatcher(send, lambda c: asyncio.ensure_future(c), window_s=10.0)
        b.add(served("p1"))
        assert b.holds("p1") and not b.holds("p2")
        await b.settle()
        assert landed == ["p1"] and not b.holds("p1")
        await b.settle()  # nothing pending, nothing in flight: returns at once

    asyncio.run(go())
