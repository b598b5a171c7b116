"""The whole request path in one process, on a small real catalog."""

import asyncio

import pytest

from serving.config import AppConfig
from serving.pipeline import InProcessStages, Pipeline
from serving.schemas import PlaylistRequest, RequestContext, SearchRequest


@pytest.fixture(scope="module")
def pipeline(mini_catalog_path, tmp_path_factory):
    cfg = AppConfig.from_dict({"catalog": {"path": str(mini_catalog_path)},
                               "retrieval": {"cache_dir": str(tmp_path_factory.mktemp("cache"))}})
    return Pipeline(InProcessStages.from_config(cfg), cfg)


def test_playlist_end_to_end(pipeline):
    r = asyncio.run(pipeline.playlist(PlaylistRequest(prompt="heavy metal to work out to", length=15), RequestContext()))
    assert len(r.tracks) == 15 and len({t.track_id for t in r.tracks}) == 15
    assert r.intent.genres == ["metal"]
    assert set(r.versions) >= {"intent_backend", "embedder", "index", "catalog", "ranker"}


def test_excluded_artist_absent(pipeline):
    r = asyncio.run(pipeline.playlist(PlaylistRequest(prompt="heavy metal, no Metallica", length=30), RequestContext()))
    assert all("Metallica" not in t.artists for t in r.tracks)


def test_search(pipeline):
    r = asyncio.run(pipeline.search(SearchRequest(query="Lojay", limit=5), RequestContext()))
    assert len(r.results) == 5 and "Lojay" in r.results[0].artists
