"""The Ingress repeats a stage call whose replica died, also when the death was upstream of the
called replica (a Retriever result handed to the Ranker); anything else propagates at once."""

import asyncio

import pytest
from ray.exceptions import ActorDiedError
from ray.serve.exceptions import RayServeException

from serving.errors import StageUnavailable
from serving.ingress import _retry_on_replica_death


def _upstream_death() -> RayServeException:
    e = RayServeException("Request to deployment 'Ranker' failed because an upstream actor died")
    e.__cause__ = ActorDiedError()
    return e


def test_a_call_that_died_upstream_is_repeated_and_then_answers():
    calls = []

    async def call():
        calls.append(1)
        if len(calls) < 3:
            raise _upstream_death() if len(calls) == 1 else ActorDiedError()
        return "ranked"

    assert asyncio.run(_retry_on_replica_death(call, backoff_s=0)) == "ranked" and len(calls) == 3


def test_deaths_past_the_tries_are_a_503_and_other_errors_are_not_retried():
    async def dies():
        raise _upstream_death()

    with pytest.raises(StageUnavailable):
        asyncio.run(_retry_on_replica_death(dies, backoff_s=0))
    calls = []

    async def bug():
        calls.append(1)
        raise RayServeException("a bug, not a death")

    with pytest.raises(RayServeException):
        asyncio.run(_retry_on_replica_death(bug, backoff_s=0))
    assert calls == [1]
