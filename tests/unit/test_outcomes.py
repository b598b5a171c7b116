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


def test_playlist_ids_carry_their_issue_time_and_only_fresh_ids_wait():
    import asyncio
    import time

    from serving.experiments.outcomes import OutcomeStore
    from serving.experiments.store_deployment import feedback_with_wait
    from serving.playlist_ids import is_fresh, issued_at, new_playlist_id

    pid = new_playlist_id(now=1_800_000_000.0)
    assert len(pid) == 32 and issued_at(pid) == 1_800_000_000.0
    assert is_fresh(pid, 5, now=1_800_000_003.0) and not is_fresh(pid, 5, now=1_800_000_010.0)
    assert issued_at("not-one-of-ours") is None and not is_fresh("x" * 32, 5)

    store = OutcomeStore()
    t0 = time.monotonic()
    out = asyncio.run(feedback_with_wait(store, "made-up-id", "t1", "like", wait_s=2.0))
    assert out["status"] == "unknown_playlist" and time.monotonic() - t0 < 1.0
    t0 = time.monotonic()
    out = asyncio.run(feedback_with_wait(store, new_playlist_id(), "t1", "like", wait_s=0.3))
    assert out["status"] == "unknown_playlist" and time.monotonic() - t0 >= 0.3
