"""The store contract suite on a real PostgreSQL server (started by the tier on loopback),
plus what only a server can show: a stopped server degrading to counted drops, a killed
server keeping every committed write, and concurrent start-ups migrating once."""

import itertools
import threading

import pytest

from serving.store.config import PostgresConfig, StoreConfig
from serving.store.factory import open_database
from serving.store.migrations import migrate, schema_version
from tests.store_contract import *  # noqa: F401,F403 - the shared suite
from tests.store_contract import outage_suite, served

_n = itertools.count()


@pytest.fixture
def pg_url(postgres_server):
    return postgres_server.create_database(f"contract_{next(_n)}")


@pytest.fixture
def db(pg_url):
    d = open_database(StoreConfig(backend="postgres", postgres=PostgresConfig(url=pg_url, connect_timeout_s=2)))
    yield d
    d.close()


def test_a_stopped_server_degrades_to_counted_drops_and_recovers(db, postgres_server):
    outage_suite(db, postgres_server.stop, postgres_server.start)


def test_committed_writes_survive_a_killed_server(db, postgres_server, pg_url):
    from serving.experiments.outcome_store import OutcomeStore

    s = OutcomeStore(db)
    for i in range(50):
        s.record_served(served(f"p{i}"))
        s.feedback(f"p{i}", "t1", "like")
    postgres_server.kill9()
    postgres_server.start()  # crash recovery replays the WAL
    again = open_database(StoreConfig(backend="postgres", postgres=PostgresConfig(url=pg_url)))
    arm = OutcomeStore(again).summary("e1")["arms"]["control"]
    assert arm["served"] == 50 and arm["events"]["like"] == 50
    again.close()


def test_concurrent_start_ups_apply_each_migration_once(pg_url):
    cfg = StoreConfig(backend="postgres", postgres=PostgresConfig(url=pg_url))
    dbs = [open_database(cfg, run_migrations=False) for _ in range(4)]
    applied, errors = [], []

    def start(d):
        try:
            applied.append(migrate(d))
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=start, args=(d,)) for d in dbs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    # Each migration takes the lock in its own transaction, so two starters may share the work (one
    # applies 001, the next 002); what must hold is that every version is applied exactly once.
    assert sorted(v for a in applied for v in a) == list(range(1, schema_version(dbs[0]) + 1))
    for d in dbs:
        d.close()


def test_the_password_comes_from_the_environment_and_never_shows(monkeypatch):
    from serving.store.postgres import PostgresDatabase

    monkeypatch.setenv("SEGUE_TEST_DB_PASSWORD", "s3cret")
    cfg = PostgresConfig(url="postgresql://segue:inline@127.0.0.1:1/segue", password_env="SEGUE_TEST_DB_PASSWORD",
                         connect_timeout_s=1)
    from serving.store.base import StoreUnavailableError

    with pytest.raises(StoreUnavailableError) as e:
        PostgresDatabase(cfg)
    assert "s3cret" not in str(e.value) and "inline" not in str(e.value) and "***" in str(e.value)


def test_the_soak_check_reads_a_postgres_store_back(db, pg_url):
    from serving.experiments.outcome_store import OutcomeStore
    from serving.tools.bench.soak import SoakResult, check_store

    s = OutcomeStore(db)
    for i in range(3):
        s.record_served(served(f"p{i}"))
    s.feedback("p0", "t1", "like")
    res = SoakResult(served_ok=["p0", "p1", "p2", "p9"], counted=[("p0", "t1"), ("p1", "t1")])
    store = StoreConfig(backend="postgres", postgres=PostgresConfig(url=pg_url))
    assert check_store(store, res, settle_s=0) == {"playlists_200": 4, "served_records_missing": 1,
                                                   "likes_counted": 2, "likes_missing": 1}
