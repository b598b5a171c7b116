"""The batch-native stage methods, without Ray: the real deployment classes called in-process.

A batch mixes arms (ltr-v1, baseline-v1 over flat, and ltr-v1 over an HNSW index) and
lengths; every request of it must get the playlist it gets alone (a batch of one), and
each stage is called once per arm group, never once per request.
"""

import asyncio
from collections import Counter

import numpy as np
import pytest

from serving.config import AppConfig
from serving.intent.deployment import IntentModelDeployment
from serving.pipeline import Pipeline
from serving.ranking.deployment import RankerDeployment
from serving.retrieval.deployment import RetrieverDeployment
from serving.schemas import PlaylistRequest, RequestContext, SearchRequest
from serving.stages import Stages

ARMS = {"control": {}, "base": {"ranker": "baseline-v1"}, "hnsw": {"index_kind": "hnsw"}}
PROMPTS = ["heavy metal to work out to", "rainy sunday jazz, nothing too upbeat", "songs from Lojay",
           "80s synthpop for a morning run", "sad country songs, no Metallica", "chill lofi beats to study"]


class DirectStages(Stages):
    """The deployments' batch methods called directly, counting calls per stage."""

    def __init__(self, intent, retriever, ranker):
        self.intent_dep, self.retriever_dep, self.ranker_dep = intent, retriever, ranker
        self.calls: Counter = Counter()

    async def intent_batch(self, prompts, ctxs):
        self.calls["intent"] += 1
        return await self.intent_dep.parse_batch(list(prompts), list(ctxs))

    async def retrieve_and_rank_batch(self, items):
        self.calls["retrieve"] += 1
        retrievals = await self.retriever_dep.search_batch(list(items))
        self.calls["rank"] += 1
        return self.ranker_dep.rank_batch(list(items), retrievals)

    async def ready(self):
        return self.retriever_dep.ready()


@pytest.fixture(scope="module")
def graph(mini_catalog_path, tmp_path_factory):
    arms = [{"name": n, "weight": 1 / 3, "components": c} for n, c in ARMS.items()]
    cfg = AppConfig.from_dict({"catalog": {"path": str(mini_catalog_path)},
                               "retrieval": {"cache_dir": str(tmp_path_factory.mktemp("cache"))},
                               "experiment": {"id": "batch-test", "salt": "s", "arms": arms}})
    retriever = RetrieverDeployment(cfg)
    retriever._loaded.wait(120)
    assert retriever.ready()[0], retriever.ready()
    stages = DirectStages(IntentModelDeployment(cfg), retriever, RankerDeployment(cfg))
    return Pipeline(stages, cfg), stages


def _ctx(arm: str, i: int) -> RequestContext:
    return RequestContext(request_id=f"r{i}", arm=arm, arm_key=";".join(f"{k}={v}" for k, v in ARMS[arm].items()))


def test_query_vector_is_made_once_and_carried(graph):
    pipe, stages = graph
    [ir] = asyncio.run(stages.intent_batch(["rainy sunday jazz"], [_ctx("control", 0)]))
    assert ir.query_vector is not None and ir.query_vector.shape == (384,)
    assert ir.vector_embedder == stages.retriever_dep._retriever.embedder.version
    # It is the embedding of the text the retriever searches with (what it used to embed itself).
    direct = stages.retriever_dep._retriever.embed_query(ir.intent)
    assert float(direct @ ir.query_vector) > 0.9999


def test_batch_equals_each_request_alone_across_arms_and_lengths(graph):
    pipe, stages = graph
    reqs, ctxs = [], []
    for i, prompt in enumerate(PROMPTS * 2):
        arm = list(ARMS)[i % len(ARMS)]
        reqs.append(PlaylistRequest(prompt=prompt, length=(5, 12, 30)[i % 3]))
        ctxs.append(_ctx(arm, i))
    stages.calls.clear()
    batched = asyncio.run(pipe.playlist_batch(reqs, ctxs))
    assert stages.calls == Counter({"intent": 3, "retrieve": 3, "rank": 3})  # once per arm group
    for req, ctx, got in zip(reqs, ctxs, batched):
        assert not isinstance(got, Exception), got
        alone = asyncio.run(pipe.playlist(req, ctx))
        assert [t.track_id for t in got.tracks] == [t.track_id for t in alone.tracks], (ctx.arm, req.prompt)
        assert np.allclose([t.score for t in got.tracks], [t.score for t in alone.tracks], atol=1e-3)
        assert got.arm == ctx.arm and len(got.tracks) == req.length
        assert got.versions["ranker"] == ARMS[ctx.arm].get("ranker", "ltr-v1")
        assert got.versions["index"].startswith(ARMS[ctx.arm].get("index_kind", "flat"))


def test_search_and_playlists_share_a_batch(graph):
    pipe, _ = graph
    out = asyncio.run(pipe.search_batch([SearchRequest(query="Lojay", limit=3), SearchRequest(query="metal", limit=4)],
                                        [_ctx("control", 1), _ctx("base", 2)]))
    assert [len(r.results) for r in out] == [3, 4] and "Lojay" in out[0].results[0].artists


def test_an_arm_group_failing_does_not_fail_the_others(graph):
    pipe, stages = graph
    bad = RequestContext(request_id="x", arm="ghost", arm_key="intent_backend=openai")  # not loaded here
    out = asyncio.run(pipe.playlist_batch([PlaylistRequest(prompt="jazz"), PlaylistRequest(prompt="jazz")],
                                          [bad, _ctx("control", 3)]))
    assert isinstance(out[0], Exception) and not isinstance(out[1], Exception)
