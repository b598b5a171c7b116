"""The store contract suite on SQLite (a file in WAL mode, as scripts/run uses it); the same
suite runs on a real PostgreSQL in tests/integration/test_store_postgres.py."""

import asyncio
import sqlite3
import time

import pytest

from serving.store.migrations import migrate
from serving.store.sqlite import SqliteDatabase, split_statements
from tests.store_contract import *  # noqa: F401,F403 - the shared suite
from tests.store_contract import outage_suite


@pytest.fixture
def db(tmp_path):
    d = SqliteDatabase(str(tmp_path / "segue.db"), busy_timeout_s=0.05)
    migrate(d)
    yield d
    d.close()


def test_sqlite_runs_in_wal_mode_and_keeps_data_across_reopen(db, tmp_path):
    from serving.experiments.outcome_store import OutcomeStore
    from tests.store_contract import served

    with db.transaction() as tx:
        assert tx.fetchone("PRAGMA journal_mode")[0] == "wal"
    OutcomeStore(db).record_served(served("p1"))
    again = SqliteDatabase(db.path)
    assert migrate(again) == [] and OutcomeStore(again).knows("p1")


def test_a_locked_database_degrades_to_counted_drops(db):
    other = sqlite3.connect(db.path, isolation_level=None)

    def lock():
        other.execute("BEGIN EXCLUSIVE")  # another writer holds the file: ours times out

    def unlock():
        other.execute("ROLLBACK")

    outage_suite(db, lock, unlock)


def test_statement_splitter():
    sql = "-- comment\nCREATE TABLE a (x INT); -- trailing\n\nCREATE INDEX i ON a (x);\nSELECT 1"
    assert split_statements(sql) == ["CREATE TABLE a (x INT)", "CREATE INDEX i ON a (x)", "SELECT 1"]


def test_playlist_ids_carry_their_issue_time():
    from serving.playlist_ids import is_fresh, issued_at, new_playlist_id

    pid = new_playlist_id(now=1_800_000_000.0)
    assert len(pid) == 32 and issued_at(pid) == 1_800_000_000.0
    assert is_fresh(pid, 5, now=1_800_000_003.0) and not is_fresh(pid, 5, now=1_800_000_010.0)
    assert issued_at("not-one-of-ours") is None and not is_fresh("x" * 32, 5)


def test_only_fresh_unknown_ids_wait(db):
    from serving.experiments.outcome_service import OutcomeService
    from serving.experiments.outcome_store import OutcomeStore
    from serving.experiments.outcomes import Rejection
    from serving.playlist_ids import new_playlist_id

    svc = OutcomeService(OutcomeStore(db), feedback_wait_s=0.3)
    t0 = time.monotonic()
    assert asyncio.run(svc.feedback("made-up-id", "t1", "like")).reason is Rejection.UNKNOWN_PLAYLIST
    assert time.monotonic() - t0 < 0.25
    t0 = time.monotonic()
    # Issued moments ago and still unknown after the wait: maybe on its way, so "retry", not 404.
    assert asyncio.run(svc.feedback(new_playlist_id(), "t1", "like")).reason is Rejection.NOT_YET_RECORDED
    assert time.monotonic() - t0 >= 0.3
    t0 = time.monotonic()
    stale = new_playlist_id(now=time.time() - 120)  # past the pending window: unknown, at once
    assert asyncio.run(svc.feedback(stale, "t1", "like")).reason is Rejection.UNKNOWN_PLAYLIST
    assert time.monotonic() - t0 < 0.25
