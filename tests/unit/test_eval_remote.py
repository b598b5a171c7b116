import json

import httpx
import pytest

from serving.catalog.loader import load_catalog
from serving.evaluation.dialogs import load_dialogs
from serving.evaluation.runner import run_remote
from tests.quality_fakes import write_tiny_cpcd


def test_remote_eval_scores_what_the_server_returns(tmp_path):
    cat_path, dl = write_tiny_cpcd(tmp_path, n_dialogs=6)
    catalog = load_catalog(cat_path)
    dialogs, _ = load_dialogs(dl, catalog)
    asked = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        asked.append(body)
        genre = body["prompt"].split()[-3]  # "... some <genre> music please"
        tracks = [{"track_id": f"{genre}-{k}", "title": "t", "artists": ["a"], "album": None, "score": 1.0,
                   "reason": "r"} for k in range(8)]
        return httpx.Response(200, json={"playlist_id": "p", "request_id": "r", "trace_id": None, "arm": "control",
                                         "experiment_id": None, "tracks": tracks, "intent": {"search_text": genre},
                                         "versions": {}})

    res = run_remote("http://segue", dialogs, catalog, n_boot=50, progress=False, transport=httpx.MockTransport(handler))
    assert res.n == 6 and all(b["length"] == 100 for b in asked)
    assert res.summary["hit@20"].mean == 1.0 and res.summary["recall@50"].mean == 1.0
    assert res.ranked[dialogs[0].id][0].endswith("-0")


def test_remote_eval_names_the_failing_dialog(tmp_path):
    cat_path, dl = write_tiny_cpcd(tmp_path, n_dialogs=2)
    catalog = load_catalog(cat_path)
    dialogs, _ = load_dialogs(dl, catalog)
    t = httpx.MockTransport(lambda r: httpx.Response(503, json={"error": "not_ready", "message": "index loading"},
                                                     headers={"Retry-After": "0"}))
    with pytest.raises(RuntimeError, match="503 for dialog d000: index loading"):
        run_remote("http://segue", dialogs, catalog, progress=False, transport=t)
