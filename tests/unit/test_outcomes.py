import pytest

from serving.experiments.outcomes import Failed, OutcomeStore, Served, TrackNotInPlaylist, UnknownPlaylist


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


SPLIT = {"control": 0.5, "canary": 0.5}


def served(pid, arm="control", tracks=("t1", "t2"), weights=SPLIT):
    return Served(pid, tuple(tracks), arm, "e1", weights,
                  latency_ms=20.0, intent_fallback=False)


def test_feedback_is_validated_against_served_playlists_and_counted_once():
    s = OutcomeStore()
    s.record_served(served("p1"))
    with pytest.raises(UnknownPlaylist):
        s.feedback("nope", "t1", "like")
    with pytest.raises(TrackNotInPlaylist):
        s.feedback("p1", "t9", "like")
    assert s.feedback("p1", "t1", "like")["counted"]
    assert not s.feedback("p1", "t1", "like")["counted"]
    arm = s.summary("e1", "control")["arms"]["control"]
    assert arm["events"]["like"] == 1 and arm["conversion"]["successes"] == 1
    assert arm["like_rate"]["rate"] == pytest.approx(0.5)


def test_memory_is_bounded_by_count_and_ttl():
    clock = Clock()
    s = OutcomeStore(max_playlists=2, ttl_s=10, clock=clock)
    for p in ("a", "b", "c"):
        s.record_served(served(p))
    assert not s.knows("a") and s.knows("c")
    clock.t = 11
    with pytest.raises(UnknownPlaylist, match="expired"):
        s.feedback("c", "t1", "play")
    s.record_served(served("d"))
    assert s.evicted >= 3
    # counts survive eviction: they are aggregates, not records
    assert s.summary("e1")["arms"]["control"]["served"] == 4


def test_overrides_and_errors():
    s = OutcomeStore()
    s.record_served(served("p1", arm="canary", weights=None))  # QA override: no weights
    s.record_failed(Failed("control", "e1", {"control": 0.5, "canary": 0.5}, 5.0))
    out = s.summary("e1", "control")
    assert out["arms"]["canary"]["assigned"] == 0  # kept out of the split
    assert out["arms"]["control"]["errors"] == 1 and out["arms"]["control"]["error_rate"] == 1.0
