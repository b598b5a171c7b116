"""One behaviour suite for the store, run on every backend (SQLite in tests/unit, SQLite
files and a real PostgreSQL in tests/integration). Each test takes a fresh, migrated
Database from the `db` fixture of the module that imports this suite."""

from __future__ import annotations

import asyncio
import json

import pytest

from serving.experiments.outcome_service import OutcomeService
from serving.experiments.outcome_store import OutcomeStore
from serving.experiments.outcomes import (
    EVENTS, Failed, FeedbackAccepted, FeedbackRejected, Rejection, Served, StoreDown,
)
from serving.store.config import RetentionConfig, WriterConfig
from serving.store.migrations import Migration, migrate, schema_version

SPLIT = {"control": 0.5, "canary": 0.5}


class Clock:
    def __init__(self, t: float = 1_800_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def served(pid, arm="control", tracks=("t1", "t2"), weights=SPLIT, exp="e1", fallback=False, latency=20.0):
    return Served(pid, tuple(tracks), arm, exp, weights, latency_ms=latency, intent_fallback=fallback)


def test_migrations_are_applied_once_and_recorded(db):
    v = schema_version(db)
    assert v >= 1
    assert migrate(db) == []  # a second start-up applies nothing
    extra = Migration(900, "contract_probe", "CREATE TABLE contract_probe (k TEXT PRIMARY KEY, v BIGINT);")
    assert migrate(db, [extra]) == [900] and migrate(db, [extra]) == []
    with db.transaction() as tx:
        tx.execute("INSERT INTO contract_probe (k, v) VALUES (?, ?)", ("a", 1))
        assert tx.fetchone("SELECT v FROM contract_probe WHERE k = ?", ("a",)) == (1,)


def test_a_failed_transaction_leaves_nothing_behind(db):
    store = OutcomeStore(db)
    with pytest.raises(ZeroDivisionError):
        with db.transaction() as tx:
            store.served_op(served("p1"))(tx)
            1 / 0
    assert not store.knows("p1") and store.summary("e1") is None


def test_feedback_is_validated_against_served_playlists_and_counted_once(db):
    s = OutcomeStore(db)
    s.record_served(served("p1"))
    assert s.feedback("nope", "t1", "like") == FeedbackRejected(Rejection.UNKNOWN_PLAYLIST, s.feedback("nope", "t1", "like").message)
    assert s.feedback("p1", "t9", "like").reason is Rejection.TRACK_NOT_IN_PLAYLIST
    assert s.feedback("p1", "t1", "dance").reason is Rejection.INVALID_EVENT
    assert s.feedback("p1", "t1", "like") == FeedbackAccepted("p1", "control", "e1", counted=True)
    assert s.feedback("p1", "t1", "like").counted is False
    arm = s.summary("e1", "control")["arms"]["control"]
    assert arm["events"]["like"] == 1 and arm["conversion"]["successes"] == 1
    assert arm["like_rate"]["rate"] == pytest.approx(0.5)


def test_a_retried_served_record_is_not_counted_twice(db):
    s = OutcomeStore(db)
    assert s.record_served(served("p1")) is True
    assert s.record_served(served("p1")) is False
    assert s.summary("e1")["arms"]["control"]["served"] == 1


def test_retention_bounds_rows_by_ttl_and_count_but_keeps_aggregates(db):
    clock = Clock()
    s = OutcomeStore(db, RetentionConfig(playlist_ttl_s=10, max_playlists=2), clock=clock)
    for i, p in enumerate(("a", "b", "c")):
        clock.t += 1
        s.record_served(served(p))
    s.feedback("a", "t1", "play")
    assert s.sweep()["playlists"] == 1
    assert not s.knows("a") and s.knows("b") and s.knows("c")
    clock.t += 11
    assert s.feedback("c", "t1", "play").reason is Rejection.UNKNOWN_PLAYLIST
    assert "expired" in s.feedback("c", "t1", "play").message
    s.record_served(served("d"))
    swept = s.sweep()
    assert swept["playlists"] == 2 and s.knows("d")
    with db.transaction() as tx:
        assert tx.fetchone("SELECT count(*) FROM feedback_events")[0] == 0  # events go with their playlist
    arm = s.summary("e1")["arms"]["control"]
    assert arm["served"] == 4 and arm["events"]["play"] == 1  # counts are aggregates, not records


def test_experiments_beyond_the_cap_are_forgotten_oldest_first(db):
    clock = Clock()
    s = OutcomeStore(db, RetentionConfig(max_experiments=2), clock=clock)
    for i, exp in enumerate(("x1", "x2", "x3")):
        clock.t += 1
        s.record_served(served(f"p{i}", exp=exp))
    assert s.sweep()["experiments"] == 1
    assert s.summary("x1") is None and s.summary("x3") is not None
    assert s.experiment_ids() == ["x2", "x3"]


def test_overrides_failures_and_shadow(db):
    s = OutcomeStore(db)
    s.record_served(served("p1", arm="canary", weights=None))  # QA override: no weights
    s.record_failed(Failed("control", "e1", SPLIT, 5.0))
    s.record_shadow("e1", ok=True, overlap=0.5, latency_ms=30.0)
    s.record_shadow("e1", ok=False, overlap=0.0, latency_ms=0.0)
    s.record_shadow("e1", ok=False, overlap=0.0, latency_ms=0.0, dropped=True)
    out = s.summary("e1", "control")
    assert out["arms"]["canary"]["assigned"] == 0 and out["arms"]["canary"]["served"] == 0  # kept out of the split
    assert out["arms"]["control"]["errors"] == 1 and out["arms"]["control"]["error_rate"] == 1.0
    assert out["shadow"] == {"runs": 2, "errors": 1, "dropped": 1, "mean_overlap_with_live": 0.5,
                             "mean_latency_ms": 30.0}
    assert out["weights"] == SPLIT


def test_aggregates_equal_a_group_by_over_the_raw_rows(db):
    """The incrementally kept per-arm sums match what the raw rows say (while they are kept)."""
    s = OutcomeStore(db)
    for i in range(40):
        arm = "control" if i % 2 else "canary"
        tracks = tuple(f"t{j}" for j in range(3 + i % 4))
        s.record_served(served(f"p{i}", arm=arm, tracks=tracks, fallback=i % 5 == 0, latency=5.0 + i))
        for j, ev in enumerate(EVENTS):
            if (i + j) % 3 == 0:
                s.feedback(f"p{i}", tracks[j % len(tracks)], ev)
        if i % 7 == 0:
            s.feedback(f"p{i}", tracks[-1], "like")
    got = s.summary("e1", "control")["arms"]
    with db.transaction() as tx:
        rows = tx.fetchall(
            "SELECT arm, count(*), sum(n_tracks), sum(likes), sum(likes * likes), sum(n_tracks * n_tracks),"
            " sum(likes * n_tracks), sum(converted) FROM served_playlists WHERE experiment_id = ? GROUP BY arm",
            ("e1",))
        events = tx.fetchall(
            "SELECT s.arm, f.event, count(*) FROM feedback_events f JOIN served_playlists s"
            " ON s.playlist_id = f.playlist_id GROUP BY s.arm, f.event")
    for arm, n, tracks, likes, yy, mm, ym, conv in rows:
        stats = OutcomeStore(db).arm_stats("e1")[0][arm]
        assert (stats.served, stats.tracks_served, stats.events["like"], stats.converted) == (n, tracks, likes, conv)
        assert (stats.like_yy, stats.like_mm, stats.like_ym) == (yy, mm, ym)
        assert got[arm]["served"] == n
    for arm, ev, n in events:
        assert got[arm]["events"][ev] == n
    assert sum(a["assigned"] for a in got.values()) == 40
    assert sum(a["expected"] for a in got.values()) == pytest.approx(40)


def test_service_batches_concurrent_writes_into_few_transactions(db):
    async def go():
        svc = OutcomeService(OutcomeStore(db), WriterConfig(flush_interval_ms=20, max_batch=64), feedback_wait_s=0)
        await asyncio.gather(*(svc.record_served(served(f"p{i}")) for i in range(200)))
        res = await asyncio.gather(*(svc.feedback(f"p{i}", "t1", "like") for i in range(200)))
        assert all(isinstance(r, FeedbackAccepted) and r.counted for r in res)
        st = svc.writer.stats
        assert st.committed["served"] == 200 and st.committed["feedback"] == 200
        assert st.batches <= 20  # 400 writes, at most 64 per transaction, gathered over 20 ms
        summary = await svc.summary("e1", "control")
        assert summary["arms"]["control"]["served"] == 200 and summary["arms"]["control"]["events"]["like"] == 200
        await svc.close()

    asyncio.run(go())


def test_feedback_waits_for_a_fresh_playlist_still_being_written(db):
    from serving.playlist_ids import new_playlist_id

    async def go():
        svc = OutcomeService(OutcomeStore(db), WriterConfig(flush_interval_ms=200), feedback_wait_s=2.0)
        pid = new_playlist_id()
        write = asyncio.ensure_future(svc.record_served(served(pid)))
        await asyncio.sleep(0)
        assert (await svc.feedback(pid, "t1", "save")).counted
        await write
        made_up = await svc.feedback("made-up-id", "t1", "like")  # not one of ours: answered at once
        assert made_up.reason is Rejection.UNKNOWN_PLAYLIST
        await svc.close()

    asyncio.run(go())


def test_track_ids_keep_their_order(db):
    s = OutcomeStore(db)
    s.record_served(served("p1", tracks=("z", "a", "m")))
    with db.transaction() as tx:
        assert json.loads(tx.fetchone("SELECT track_ids FROM served_playlists WHERE playlist_id = ?", ("p1",))[0]) == ["z", "a", "m"]



def outage_suite(db, break_db, heal_db):
    """Shared by the backends: while the database is down nothing raises to the caller,
    writes are dropped (counted) after the retry budget, feedback and summaries answer
    typed 'unavailable' values; once it is back, writes land again."""

    async def go():
        svc = OutcomeService(OutcomeStore(db), WriterConfig(flush_interval_ms=5, retry_budget_s=0.5), feedback_wait_s=0)
        assert await svc.record_served(served("p1"))
        break_db()
        assert await svc.record_served(served("p2")) is False
        fb = await svc.feedback("p1", "t1", "like")
        assert isinstance(fb, FeedbackRejected) and fb.reason is Rejection.STORE_UNAVAILABLE
        assert isinstance(await svc.summary("e1", None), StoreDown)
        assert svc.writer.stats.dropped["served"] == 1  # counted (and logged) where the write was given up
        heal_db()
        assert await svc.record_served(served("p3"))
        assert (await svc.feedback("p1", "t1", "like")).counted
        s = await svc.summary("e1", None)
        assert s["arms"]["control"]["served"] == 2 and s["arms"]["control"]["events"]["like"] == 1
        await svc.close()

    asyncio.run(go())
