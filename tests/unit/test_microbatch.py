"""The Ingress's micro-batcher: batches grow with the load, a lone request waits at most the
batch timeout, per-item errors stay per item, and callers that left are not run."""

import asyncio

import pytest

from serving.microbatch import MicroBatcher


def run(coro):
    return asyncio.run(coro)


def test_requests_arriving_while_the_slots_are_busy_go_out_together():
    sizes: list[int] = []

    async def go():
        release = asyncio.Event()

        async def fn(items):
            sizes.append(len(items))
            if len(sizes) == 1:
                await release.wait()  # the only slot stays busy while 20 more arrive
            return [i * 10 for i in items]

        b = MicroBatcher(fn, max_batch_size=8, batch_wait_timeout_s=0.001, max_concurrent_batches=1)
        first = asyncio.ensure_future(b.submit(0))
        await asyncio.sleep(0.01)
        rest = [asyncio.ensure_future(b.submit(i)) for i in range(1, 21)]
        await asyncio.sleep(0.01)
        release.set()
        return await first, await asyncio.gather(*rest)

    first, rest = run(go())
    assert first == 0 and rest == [i * 10 for i in range(1, 21)]
    assert sizes == [1, 8, 8, 4]  # the queue drained in full batches, in arrival order


def test_a_lone_request_is_answered_after_the_wait_and_slots_run_concurrently():
    running, peak = 0, 0

    async def fn(items):
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1
        return items

    async def go():
        b = MicroBatcher(fn, max_batch_size=1, batch_wait_timeout_s=0.0, max_concurrent_batches=3)
        assert await b.submit("x") == "x"
        return await asyncio.gather(*(b.submit(i) for i in range(6)))

    assert run(go()) == list(range(6))
    assert peak == 3


def test_errors_stay_with_their_item_and_a_failing_batch_fails_all_its_items():
    async def per_item(items):
        return [ValueError(f"bad {i}") if i % 2 else i for i in items]

    async def broken(items):
        raise RuntimeError("stage down")

    async def go():
        b = MicroBatcher(per_item, 4, 0.005, 1)
        got = await asyncio.gather(*(b.submit(i) for i in range(4)))
        assert got[0] == 0 and isinstance(got[1], ValueError) and str(got[3]) == "bad 3"
        b2 = MicroBatcher(broken, 4, 0.005, 1)
        got = await asyncio.gather(*(b2.submit(i) for i in range(3)))
        assert all(isinstance(g, RuntimeError) for g in got)

    run(go())


def test_a_caller_that_left_is_not_run():
    seen: list = []

    async def fn(items):
        seen.extend(items)
        return items

    async def go():
        b = MicroBatcher(fn, 8, 0.02, 1)
        gone = asyncio.ensure_future(b.submit("gone"))
        stays = asyncio.ensure_future(b.submit("stays"))
        await asyncio.sleep(0.001)
        gone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone
        return await stays

    assert run(go()) == "stays"
    assert seen == ["stays"]
