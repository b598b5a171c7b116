"""scripts/load's accounting: answers lost with a killed Ingress replica are counted apart from
every other error, and RSS growth is measured after warm-up, per process."""

from collections import Counter

from serving.tools.bench.load import classify, while_down
from serving.tools.bench.loadgen import LoadResult
from serving.tools.bench.soak import rss_growth


def test_only_errors_in_flight_at_the_ingress_kill_are_set_apart():
    res = LoadResult(statuses=Counter())
    # (start s, status, ms): the Ingress is killed at 10.0 s
    res.timeline = [(9.5, 500, 800), (9.9, -1, 300), (10.5, 500, 100), (9.0, 200, 2000), (9.8, 503, 500),
                    (3.0, 500, 50)]
    kills = [{"deployment": "Retriever", "killed_at_s": 3.01}, {"deployment": "Ingress", "killed_at_s": 10.0}]
    out = classify(res, kills)
    assert out["in_flight_on_killed_ingress"] == {500: 1, "lost": 1}
    assert out["other_errors"] == {500: 2}  # after the kill, and one during the Retriever's


def test_what_requests_in_flight_while_a_replica_was_replaced_got():
    res = LoadResult(statuses=Counter())
    # killed at 10 s, replacement running at 15 s
    res.timeline = [(9.0, 200, 500), (9.5, 200, 6000), (12.0, 503, 5), (14.9, -1, 100), (15.5, 200, 10), (16, 200, 9)]
    out = while_down(res, {"killed_at_s": 10.0, "recovery_s": 5.0})
    assert out == {"requests": 3, "answered": {200: 1, 503: 1, "lost": 1}, "max_ms_200": 6000, "p50_ms_200": 6000}


def test_rss_growth_is_from_the_first_sample_after_warm_up_and_per_process():
    mib = 2**20
    samples = [(0.0, {"Ranker pid 1": 100 * mib}), (1.0, {"Ranker pid 1": 150 * mib}),
               (2.0, {"Ranker pid 1": 200 * mib}), (3.0, {"Ranker pid 1": 202 * mib, "OutcomeStore pid 9": 50 * mib}),
               (6.0, {"Ranker pid 1": 204 * mib, "OutcomeStore pid 9": 60 * mib})]
    rows = {r["process"]: r for r in rss_growth(samples, warmup_min=2.0)}
    assert rows["Ranker pid 1"]["after_warmup_mib"] == 200 and rows["Ranker pid 1"]["growth_pct"] == 2.0
    # A replacement replica that started late is measured from its own warm-up: too short here.
    assert rows["OutcomeStore pid 9"]["samples"] == 2 and rows["OutcomeStore pid 9"]["growth_pct"] == 0.0


def test_the_soak_reads_acknowledged_playlists_and_likes_back_from_the_database(tmp_path):
    from serving.store.config import StoreConfig
    from serving.store.factory import open_database
    from serving.tools.bench.soak import SoakResult, check_store

    store = StoreConfig(sqlite_path=str(tmp_path / "segue.db"))
    db = open_database(store)  # the real migrations
    with db.transaction() as tx:
        for p in ("p1", "p2"):
            tx.execute("INSERT INTO served_playlists (playlist_id, arm, track_ids, n_tracks, served_at, expires_at) "
                       "VALUES (?, 'control', '[]', 0, 0, 1)", (p,))
        tx.execute("INSERT INTO feedback_events VALUES ('p1', 't1', 'like', 0, 1)")
    db.close()
    res = SoakResult()
    res.served_ok = ["p1", "p2", "p3"]  # p3 answered 200 but its record is not there
    res.counted = [("p1", "t1"), ("p2", "t9")]
    assert check_store(store, res, settle_s=0) == {"playlists_200": 3, "served_records_missing": 1,
                                                   "likes_counted": 2, "likes_missing": 1}
