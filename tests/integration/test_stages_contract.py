"""One behaviour suite for the two Stages implementations the Pipeline runs on: plain objects in
this process (InProcessStages: eval, benchmarks) and Ray Serve deployment handles (HandleStages:
the served graph, here in Serve's local testing mode: real deployments and handles, no cluster).
Every test runs against both; a difference between them is a bug in one of them."""

import asyncio
import time

import pytest
from ray import serve

from serving.config import AppConfig
from serving.ingress import HandleStages
from serving.intent.deployment import IntentModelDeployment
from serving.pipeline import InProcessStages, Pipeline
from serving.ranking.deployment import RankerDeployment
from serving.retrieval.deployment import RetrieverDeployment
from serving.schemas import PlaylistRequest, RequestContext, SearchRequest


@pytest.fixture(scope="module")
def config(mini_catalog_path, tmp_path_factory):
    return AppConfig.from_dict({"catalog": {"path": str(mini_catalog_path)},
                                "retrieval": {"cache_dir": str(tmp_path_factory.mktemp("cache"))}})


def _serve_handle_stages(config: AppConfig) -> HandleStages:
    """The three stage deployments, each run as Serve runs them, behind the handles the Ingress uses."""
    handles = [serve.run(serve.deployment(name=name)(cls).bind(config), name=name.lower(), route_prefix=None,
                         _local_testing_mode=True)
               for name, cls in (("IntentModel", IntentModelDeployment), ("Retriever", RetrieverDeployment),
                                 ("Ranker", RankerDeployment))]
    return HandleStages(*handles)


@pytest.fixture(scope="module", params=["in-process", "serve-handles"])
def pipeline(request, config):
    stages = InProcessStages.from_config(config) if request.param == "in-process" else _serve_handle_stages(config)
    deadline = time.monotonic() + 120
    while True:  # the Retriever deployment loads its index in the background
        ok, why = asyncio.run(stages.ready())
        if ok or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert ok, why
    yield Pipeline(stages, config)
    if request.param == "serve-handles":
        serve.shutdown()


def _playlist(pipeline, prompt, length, ctx=None):
    return asyncio.run(pipeline.playlist(PlaylistRequest(prompt=prompt, length=length), ctx or RequestContext()))


def test_playlist_has_the_asked_length_no_repeats_and_every_version(pipeline):
    r = _playlist(pipeline, "heavy metal to work out to", 12)
    assert len(r.tracks) == 12 and len({t.track_id for t in r.tracks}) == 12
    assert r.intent.genres == ["metal"]
    assert set(r.versions) >= {"intent_backend", "intent_parser", "embedder", "index", "catalog", "ranker"}
    assert r.versions["ranker"] == "ltr-v1" and r.versions["index"].startswith("flat-")  # the defaults
    assert r.versions["lexical"].startswith("bm25-")


def test_the_prompts_length_applies_unless_the_request_sets_one(pipeline):
    r = asyncio.run(pipeline.playlist(PlaylistRequest(prompt="7 songs of chill jazz"), RequestContext()))
    assert len(r.tracks) == 7
    assert len(_playlist(pipeline, "7 songs of chill jazz", 4).tracks) == 4


def test_excluded_artist_is_absent(pipeline):
    r = _playlist(pipeline, "heavy metal, no Metallica", 30)
    assert r.tracks and all("Metallica" not in t.artists for t in r.tracks)


def test_search_finds_a_named_artist_first(pipeline):
    r = asyncio.run(pipeline.search(SearchRequest(query="Lojay", limit=3), RequestContext()))
    assert len(r.results) == 3 and "Lojay" in r.results[0].artists


def test_the_request_context_comes_back(pipeline):
    ctx = RequestContext(request_id="contract-1", arm="control", experiment_id=None)
    r = _playlist(pipeline, "rainy sunday jazz", 5, ctx)
    assert (r.request_id, r.arm, r.experiment_id) == ("contract-1", "control", None)


def test_concurrent_requests_get_their_own_playlists(pipeline):
    async def many():
        return await asyncio.gather(*(pipeline.playlist(PlaylistRequest(prompt=f"jazz number {i}", length=5),
                                                        RequestContext()) for i in range(8)))

    out = asyncio.run(many())
    assert all(len(r.tracks) == 5 for r in out)
    assert len({r.playlist_id for r in out}) == 8


def test_a_batch_answers_as_its_requests_one_by_one(pipeline):
    reqs = [PlaylistRequest(prompt=p, length=n) for p, n in (("heavy metal to work out to", 6),
                                                             ("quiet piano for sleeping", 4),
                                                             ("heavy metal to work out to", 3))]
    batch = asyncio.run(pipeline.playlist_batch(reqs, [RequestContext() for _ in reqs]))
    for req, got in zip(reqs, batch):
        one = asyncio.run(pipeline.playlist(req, RequestContext()))
        assert [t.track_id for t in got.tracks] == [t.track_id for t in one.tracks]


def test_both_implementations_answer_alike(pipeline, config):
    """Same components, same answer: the served graph returns what the in-process stages return."""
    reference = Pipeline(_reference_stages(config), config)
    for prompt in ("heavy metal to work out to", "quiet piano for sleeping"):
        got = _playlist(pipeline, prompt, 10)
        want = _playlist(reference, prompt, 10)
        assert [t.track_id for t in got.tracks] == [t.track_id for t in want.tracks]
        assert got.versions == want.versions


_REFERENCE: dict = {}


def _reference_stages(config):
    if "stages" not in _REFERENCE:
        _REFERENCE["stages"] = InProcessStages.from_config(config)
    return _REFERENCE["stages"]
