"""Ingress micro-batching (serving/microbatch.py, as app.py configures it) and the admission
bound, over real HTTP semantics through FastAPI's ASGI app (no Ray)."""

import asyncio

import httpx
from fastapi import Request

from serving.config import AppConfig
from serving.ingress import IngressCore, create_api
from serving.microbatch import micro_batch
from serving.intent.model import Intent
from serving.intent.service import IntentResult
from serving.schemas import PlaylistRequest, PlaylistResponse, RankedTrack
from serving.stages import RankResult, Stages


class SlowBatchStages(Stages):
    """Records the batch sizes the stages see; each batch takes `delay_s`."""

    def __init__(self, delay_s: float = 0.05):
        self.delay_s = delay_s
        self.intent_batches: list[int] = []
        self.rank_batches: list[int] = []

    async def intent_batch(self, prompts, ctxs):
        self.intent_batches.append(len(prompts))
        return [IntentResult(Intent(search_text=p[:50]), {"intent_backend": "fake"}) for p in prompts]

    async def retrieve_and_rank_batch(self, items):
        self.rank_batches.append(len(items))
        await asyncio.sleep(self.delay_s)
        return [RankResult([RankedTrack(track_id=f"{it.intent.search_text}-{i}", title="T", artists=["A"], album=None,
                                        score=1.0, reason="r") for i in range(it.length)], it.k, {"ranker": "fake"})
                for it in items]

    async def ready(self):
        return True, "ok"


def _app(stages, cfg: AppConfig):
    api = create_api(cfg)
    b = cfg.batching
    batch = micro_batch(b.max_batch_size, b.batch_wait_timeout_s, b.max_concurrent_batches) if b.enabled else None
    core = IngressCore(stages, cfg, batch=batch)

    @api.post("/v1/playlists", response_model=PlaylistResponse)
    async def playlists(body: PlaylistRequest, request: Request):
        return await core.create_playlist(body, request)

    return api, core


async def _burst(api, n: int, **body):
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        return await asyncio.gather(*(c.post("/v1/playlists", json={"prompt": f"p{i}", "length": 3, **body})
                                      for i in range(n)))


def _cfg(**over) -> AppConfig:
    return AppConfig.from_dict({"security": {"rate_limit": {"enabled": False}}, **over})


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer():
    stages = SlowBatchStages()
    api, _ = _app(stages, _cfg(batching={"max_batch_size": 8, "batch_wait_timeout_s": 0.05,
                                         "max_concurrent_batches": 1}))
    out = asyncio.run(_burst(api, 16))
    assert [r.status_code for r in out] == [200] * 16
    assert [r.json()["tracks"][0]["track_id"] for r in out] == [f"p{i}-0" for i in range(16)]
    assert max(stages.intent_batches) > 1 and sum(stages.intent_batches) == 16
    assert len(stages.rank_batches) < 16  # fewer stage calls than requests


def test_batching_off_calls_each_request_alone():
    stages = SlowBatchStages(delay_s=0.0)
    api, _ = _app(stages, _cfg(batching={"enabled": False}))
    assert all(r.status_code == 200 for r in asyncio.run(_burst(api, 5)))
    assert stages.intent_batches == [1] * 5


def test_past_the_admission_bound_answers_503_with_retry_after_at_once():
    stages = SlowBatchStages(delay_s=0.3)
    api, core = _app(stages, _cfg(batching={"max_batch_size": 4, "max_concurrent_batches": 1},
                                  admission={"max_in_flight": 4, "retry_after_s": 2}))
    out = asyncio.run(_burst(api, 12))
    codes = sorted(r.status_code for r in out)
    assert codes == [200] * 4 + [503] * 8, codes
    rejected = [r for r in out if r.status_code == 503]
    assert all(r.headers["retry-after"] == "2" and r.json()["error"] == "overloaded" for r in rejected)
    assert "capacity" in rejected[0].json()["message"]
    assert core.admission.in_flight == 0 and core.admission.rejected == 8


def test_the_admission_bound_adapts_to_the_latency_it_sees():
    from serving.admission import Admission

    now = [0.0]
    adm = Admission(AppConfig.from_dict({"admission": {"max_in_flight": 40, "min_in_flight": 4,
                                                       "target_latency_s": 0.5}}).admission, 64, clock=lambda: now[0])
    assert adm.bound == 40

    def answer(seconds: float) -> None:
        with adm.admit():
            now[0] += seconds

    answer(0.55)  # just over the target: cut by a tenth
    assert adm.bound == 36
    a, b = adm.enter(), adm.enter()  # two slow answers of the same round trip: one cut
    now[0] += 2.0
    adm.leave(a)
    adm.leave(b)
    assert adm.bound == 32
    for _ in range(30):  # overloaded: every answer takes 2 s
        answer(2.0)
    assert adm.bound == 4  # cut by a tenth per slow round trip, down to the floor
    for _ in range(200):  # healthy again: additive increase
        answer(0.05)
    assert 15 < adm.bound <= 40
    idle = adm.bound
    now[0] += 3600  # idle for an hour: the bound does not decay
    assert adm.bound == idle


def test_a_fixed_bound_when_the_target_is_zero():
    from serving.admission import Admission

    adm = Admission(AppConfig.from_dict({"admission": {"max_in_flight": 10, "target_latency_s": 0}}).admission, 64)
    with adm.admit():
        pass
    assert adm.bound == 10
