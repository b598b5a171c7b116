"""Whole-graph arms in local testing mode: each deployment serves the request's arm,
the OutcomeStore deployment validates feedback, reconfigure() swaps weights."""

import time

import pytest
from ray import serve
from starlette.requests import Request

from serving.app import build_app
from serving.config import AppConfig
from serving.schemas import FeedbackRequest, PlaylistRequest

EXPERIMENT = {"id": "loc", "salt": "loc", "arms": [
    {"name": "control", "weight": 0.5, "components": {"ranker": "baseline-v1"}},
    {"name": "canary", "weight": 0.5, "components": {"ranker": "random-v1"}}]}


@pytest.fixture(scope="module")
def ingress(mini_catalog_path, tmp_path_factory):
    cfg = AppConfig.from_dict({"catalog": {"path": str(mini_catalog_path)},
                               "retrieval": {"cache_dir": str(tmp_path_factory.mktemp("cache"))},
                               "store": {"sqlite_path": str(tmp_path_factory.mktemp("store") / "segue.db")},
                               "experiment": EXPERIMENT})
    handle = serve.run(build_app(cfg), _local_testing_mode=True)
    deadline = time.monotonic() + 120
    while handle.readyz_route.remote().result().status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
    yield handle
    serve.shutdown()


def _request() -> Request:
    return Request({"type": "http", "method": "POST", "path": "/v1/playlists", "headers": [], "query_string": b""})


def test_each_arm_is_served_by_its_own_ranker_and_feedback_is_validated(ingress):
    seen = {}
    for i in range(40):
        r = ingress.playlists.remote(PlaylistRequest(prompt="heavy metal to work out to", user_id=f"u{i}", length=8),
                                     _request()).result()
        seen[r.arm] = r
        assert r.experiment_id == "loc"
        assert r.versions["ranker"] == {"control": "baseline-v1", "canary": "random-v1"}[r.arm]
    assert set(seen) == {"control", "canary"}
    # the broken fixture really differs from the control for the same prompt
    assert [t.track_id for t in seen["control"].tracks] != [t.track_id for t in seen["canary"].tracks]
    r = seen["canary"]
    ok = ingress.feedback_route.remote(FeedbackRequest(playlist_id=r.playlist_id, track_id=r.tracks[0].track_id,
                                                       event="like")).result()
    assert ok.arm == "canary" and ok.counted
    summary = ingress.experiment_route.remote("loc").result()
    assert summary["arms"]["canary"]["events"]["like"] == 1
