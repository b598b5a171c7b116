"""The load generator on the typed client: every request accounted for, nothing retried."""

import asyncio

import httpx
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from serving.tools.bench.loadgen import run_load
from tests.unit.console_app import console_api


def test_statuses_are_counted_per_request_through_the_real_routes():
    api, _ = console_api()
    body = lambda i: {"prompt": "jazz", "length": 0 if i % 5 == 0 else 3, "user_id": f"u{i}"}  # noqa: E731
    res = asyncio.run(run_load("http://127.0.0.1/v1/playlists", body, requests=20, concurrency=3,
                               transport=httpx.ASGITransport(app=api)))
    assert res.sent == 20 and res.statuses == {200: 16, 422: 4} and res.lost == 0
    assert len(res.latencies_ms) == 16


def test_503_is_not_retried_and_a_missing_retry_after_is_counted():
    calls = []

    async def busy(request):
        calls.append(1)
        headers = {"Retry-After": "1"} if len(calls) % 2 else {}
        return JSONResponse({"error": "overloaded", "message": "full"}, 503, headers=headers)

    app = Starlette(routes=[Route("/v1/search", busy, methods=["POST"])])
    res = asyncio.run(run_load("http://127.0.0.1/v1/search", lambda i: {"query": "x"}, requests=6, concurrency=1,
                               transport=httpx.ASGITransport(app=app)))
    assert len(calls) == 6 and res.statuses == {503: 6} and res.missing_retry_after == 3
