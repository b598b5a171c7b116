"""scripts/load's accounting: answers lost with a killed Ingress replica are counted apart from
every other error, and RSS growth is measured after warm-up, per process."""

from collections import Counter

from serving.tools.bench.load import classify
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


def test_rss_growth_is_from_the_first_sample_after_warm_up_and_per_process():
    mib = 2**20
    samples = [(0.0, {"Ranker pid 1": 100 * mib}), (1.0, {"Ranker pid 1": 150 * mib}),
               (2.0, {"Ranker pid 1": 200 * mib}), (3.0, {"Ranker pid 1": 202 * mib, "OutcomeStore pid 9": 50 * mib}),
               (6.0, {"Ranker pid 1": 204 * mib, "OutcomeStore pid 9": 60 * mib})]
    rows = {r["process"]: r for r in rss_growth(samples, warmup_min=2.0)}
    assert rows["Ranker pid 1"]["after_warmup_mib"] == 200 and rows["Ranker pid 1"]["growth_pct"] == 2.0
    # A replacement replica that started late is measured from its own warm-up: too short here.
    assert rows["OutcomeStore pid 9"]["samples"] == 2 and rows["OutcomeStore pid 9"]["growth_pct"] == 0.0
