"""The Ingress's handle to the OutcomeStore repeats a call whose replica died; a like committed
just before the death is acknowledged as counted by the repeat (it is in the store once)."""

import asyncio

from ray.exceptions import ActorDiedError

from serving.experiments.outcomes import FeedbackAccepted
from serving.experiments.sinks import HandleOutcomeSink


class _Method:
    def __init__(self, fn):
        self.remote = fn


class _StoreThatDiesAfterCommitting:
    def __init__(self, deaths: int):
        self.rows: set = set()
        self.deaths = deaths

    @property
    def feedback(self):
        async def call(playlist_id, track_id, event):
            key = (playlist_id, track_id, event)
            new = key not in self.rows
            self.rows.add(key)
            if self.deaths:  # committed, then the replica dies before answering
                self.deaths -= 1
                raise ActorDiedError()
            return FeedbackAccepted(playlist_id, "control", "exp", counted=new)
        return _Method(call)


def test_a_like_committed_before_its_store_replica_died_is_acknowledged_as_counted():
    store = _StoreThatDiesAfterCommitting(deaths=1)
    sink = HandleOutcomeSink(store, retry_delays_s=(0.0, 0.0))
    res = asyncio.run(sink.feedback("p1", "t1", "like"))
    assert res.counted and store.rows == {("p1", "t1", "like")}
    # A genuine duplicate (no replica death) stays a duplicate.
    assert asyncio.run(sink.feedback("p1", "t1", "like")).counted is False
