"""The composed Serve graph in local testing mode: real deployments and handles, no cluster."""

import asyncio
import time

import pytest
from ray import serve
from starlette.requests import Request

from serving.app import build_app
from serving.config import AppConfig
from serving.schemas import PlaylistRequest, SearchRequest


@pytest.fixture(scope="module")
def ingress(mini_catalog_path, tmp_path_factory):
    cfg = AppConfig.from_dict({"catalog": {"path": str(mini_catalog_path)},
                               "retrieval": {"cache_dir": str(tmp_path_factory.mktemp("cache"))},
                               "store": {"sqlite_path": str(tmp_path_factory.mktemp("store") / "segue.db")}})
    handle = serve.run(build_app(cfg), _local_testing_mode=True)
    deadline = time.monotonic() + 120
    while True:  # the Retriever loads its index in the background
        resp = handle.readyz_route.remote().result()
        if resp.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert resp.status_code == 200, resp.body
    yield handle
    serve.shutdown()


def _request(path: str) -> Request:
    return Request({"type": "http", "method": "POST", "path": path, "headers": [], "query_string": b""})


def test_playlist_through_the_graph(ingress):
    r = ingress.playlists.remote(PlaylistRequest(prompt="heavy metal to work out to", length=12), _request("/v1/playlists")).result()
    assert len(r.tracks) == 12 and len({t.track_id for t in r.tracks}) == 12
    assert r.intent.genres == ["metal"]
    assert r.versions["ranker"] == "ltr-v1" and r.versions["index"].startswith("flat-")  # the default ranker
    assert r.versions["lexical"].startswith("bm25-")


def test_search_through_the_graph(ingress):
    r = ingress.search_route.remote(SearchRequest(query="Lojay", limit=3), _request("/v1/search")).result()
    assert len(r.results) == 3 and "Lojay" in r.results[0].artists


def test_concurrent_requests(ingress):
    async def many():
        calls = [ingress.playlists.remote(PlaylistRequest(prompt=f"jazz number {i}", length=5), _request("/v1/playlists"))
                 for i in range(8)]
        return [await c for c in calls]

    out = asyncio.run(many())
    assert all(len(r.tracks) == 5 for r in out)
    assert len({r.playlist_id for r in out}) == 8
