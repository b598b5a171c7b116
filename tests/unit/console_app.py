"""The Ingress routes over fake stages, as a plain ASGI app (no Ray): what the client and
console unit tests talk to. Routes mirror serving/ingress.py::ingress_class."""

from __future__ import annotations

import asyncio
import threading

import httpx
from fastapi import Request

from serving.config import AppConfig
from serving.experiments.sinks import LocalOutcomeSink
from serving.ingress import IngressCore, create_api
from serving.metrics import NullBackend, SegueMetrics
from serving.schemas import FeedbackRequest, PlaylistRequest, PlaylistResponse, SearchRequest
from tests.unit.test_http_errors import FakeStages

EXPERIMENT = {"id": "ui-exp", "salt": "s", "control": "control", "arms": [
    {"name": "control", "weight": 0.5, "components": {"ranker": "baseline-v1"}},
    {"name": "canary", "weight": 0.5, "components": {"ranker": "baseline-v2"}}]}


def console_api(config: AppConfig | None = None, stages=None):
    config = config or AppConfig.from_dict({"experiment": EXPERIMENT,
                                            "security": {"rate_limit": {"enabled": False}}})
    api = create_api(config)
    # As in the served graph, feedback that overtakes its playlist's record waits for it.
    core = IngressCore(stages or FakeStages(), config, LocalOutcomeSink(feedback_wait_s=2.0), SegueMetrics(NullBackend()))

    @api.post("/v1/playlists", response_model=PlaylistResponse)
    async def playlists(body: PlaylistRequest, request: Request):
        return await core.create_playlist(body, request)

    @api.post("/v1/search")
    async def search(body: SearchRequest, request: Request):
        return await core.search(body, request)

    @api.post("/v1/feedback")
    async def feedback(body: FeedbackRequest):
        return await core.feedback(body)

    @api.get("/v1/experiments/{experiment_id}")
    async def experiment(experiment_id: str):
        return await core.experiment_summary(experiment_id)

    @api.get("/ui/config.json")
    async def console_config():
        return core.console_config()

    @api.get("/readyz")
    async def readyz():
        return await core.readyz()

    return api, core


class SyncASGITransport(httpx.BaseTransport):
    """httpx's ASGITransport is async-only: run it on one background loop so the blocking
    client can talk to the same in-process app (and its background recording tasks live on)."""

    def __init__(self, app):
        self._inner = httpx.ASGITransport(app=app)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def go():
            request.stream = httpx.ByteStream(request.read())
            r = await self._inner.handle_async_request(request)
            body = await r.aread()
            return httpx.Response(r.status_code, headers=r.headers, content=body, request=request)

        return asyncio.run_coroutine_threadsafe(go(), self._loop).result(30)

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(30)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
