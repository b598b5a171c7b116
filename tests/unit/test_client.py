"""serving.client against the real API routes over fake stages (ASGI, no Ray, no sockets)."""

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from serving.client import (
    AsyncSegueClient, RetryPolicy, SegueAPIError, SegueClient, SegueConnectionError, SegueError, api_error,
)
from serving.schemas import ExperimentSummary, FeedbackResponse, PlaylistResponse, SearchResponse
from tests.unit.console_app import SyncASGITransport, console_api


@pytest.fixture
def sync_client():
    api, _ = console_api()
    transport = SyncASGITransport(api)
    with SegueClient("http://segue", transport=transport) as c:
        yield c
    transport.close()


def test_playlist_feedback_and_experiment_are_typed(sync_client):
    p = sync_client.playlist("rainy sunday jazz", length=4, user_id="u-1")
    assert isinstance(p, PlaylistResponse) and len(p.tracks) == 4 and p.experiment_id == "ui-exp"
    f = sync_client.feedback(p.playlist_id, p.tracks[0].track_id, "like")
    assert isinstance(f, FeedbackResponse) and f.counted and f.arm == p.arm
    assert sync_client.feedback(p.playlist_id, p.tracks[0].track_id, "like").counted is False
    s = sync_client.experiment("ui-exp")
    assert isinstance(s, ExperimentSummary) and s.weights == {"control": 0.5, "canary": 0.5}
    arm = s.arms[p.arm]
    assert arm.served == 1 and arm.events["like"] == 1 and arm.like_rate.rate == pytest.approx(0.25)
    assert s.weights_history[0].weights == {"control": 0.5, "canary": 0.5}
    assert isinstance(sync_client.search("daft punk", limit=3), SearchResponse)
    assert sync_client.ready()


def test_errors_carry_the_servers_message(sync_client):
    with pytest.raises(SegueAPIError) as e:
        sync_client.playlist("   ")
    assert e.value.status == 422 and e.value.error == "invalid_request"
    assert "prompt must contain some" in e.value.message and e.value.request_id
    with pytest.raises(SegueAPIError) as e:
        sync_client.feedback("nope", "t0", "like")
    assert e.value.status == 404 and "was not served here" in e.value.message
    with pytest.raises(SegueAPIError, match="404 not_found: experiment 'other' has no recorded traffic"):
        sync_client.experiment("other")


def test_arm_override_needs_a_token_and_is_sent_with_it(monkeypatch):
    monkeypatch.setenv("SEGUE_ADMIN_TOKEN", "tok")
    api, _ = console_api()
    t = SyncASGITransport(api)
    try:
        with pytest.raises(SegueError, match="needs the admin token"):
            SegueClient("http://segue", transport=t).playlist("jazz", arm="canary")
        p = SegueClient("http://segue", transport=t, admin_token="tok").playlist("jazz", arm="canary")
        assert p.arm == "canary"
        with pytest.raises(SegueAPIError) as e:
            SegueClient("http://segue", transport=t, admin_token="wrong").playlist("jazz", arm="canary")
        assert e.value.status == 401 and "Authorization: Bearer" in e.value.message
    finally:
        t.close()


def test_async_client_over_asgi_transport():
    api, _ = console_api()

    async def go():
        async with AsyncSegueClient("http://segue", transport=httpx.ASGITransport(app=api)) as c:
            p = await c.playlist("80s synthpop", length=3, user_id="u-2")
            await c.feedback(p.playlist_id, p.tracks[1].track_id, "save")
            s = await c.experiment("ui-exp")
            with pytest.raises(SegueAPIError, match="length"):
                await c.playlist("x", length=0)
            return p, s

    p, s = asyncio.run(go())
    assert s.arms[p.arm].conversion.successes == 1


def _flaky(statuses_then_ok, headers):
    calls = []

    async def handler(request):
        calls.append(1)
        if len(calls) <= len(statuses_then_ok):
            status = statuses_then_ok[len(calls) - 1]
            return JSONResponse({"error": "overloaded", "message": "queues full; retry shortly"}, status, headers=headers)
        return JSONResponse({"experiment_id": "e"})

    return Starlette(routes=[Route("/v1/experiments/{x}", handler)]), calls


def test_503_with_retry_after_is_retried_then_succeeds():
    app, calls = _flaky([503, 503], {"Retry-After": "0"})
    t = SyncASGITransport(app)
    try:
        assert SegueClient("http://s", transport=t).experiment("e").experiment_id == "e"
        assert len(calls) == 3
    finally:
        t.close()


def test_retries_are_bounded_and_the_last_error_is_raised():
    app, calls = _flaky([503] * 5, {"Retry-After": "0"})
    t = SyncASGITransport(app)
    try:
        with pytest.raises(SegueAPIError) as e:
            SegueClient("http://s", transport=t, retry=RetryPolicy(attempts=2)).experiment("e")
        assert len(calls) == 2 and e.value.status == 503 and e.value.retry_after_s == 0
        assert e.value.message == "queues full; retry shortly"
    finally:
        t.close()


def test_429_is_retried_only_with_retry_after_and_4xx_never():
    for status, headers, expected_calls in ((429, {}, 1), (429, {"Retry-After": "0"}, 3), (400, {"Retry-After": "0"}, 1)):
        app, calls = _flaky([status] * 5, headers)
        t = SyncASGITransport(app)
        try:
            with pytest.raises(SegueAPIError):
                SegueClient("http://s", transport=t).experiment("e")
            assert len(calls) == expected_calls, (status, headers)
        finally:
            t.close()


def test_retry_wait_follows_the_server_and_is_capped():
    p = RetryPolicy(attempts=3, max_wait_s=10)
    r = lambda status, h: httpx.Response(status, headers=h)  # noqa: E731
    assert p.wait_s(r(503, {"Retry-After": "7"}), 0) == 7
    assert p.wait_s(r(503, {"Retry-After": "600"}), 0) == 10
    assert p.wait_s(r(503, {}), 0) == p.default_wait_s
    assert p.wait_s(r(503, {"Retry-After": "1"}), 2) is None  # out of attempts
    assert p.wait_s(r(500, {"Retry-After": "1"}), 0) is None


def test_unreachable_server_is_a_connection_error():
    def refuse(request):
        raise httpx.ConnectError("connection refused", request=request)

    c = SegueClient("http://s", transport=httpx.MockTransport(refuse), retry=RetryPolicy(attempts=2, default_wait_s=0))
    with pytest.raises(SegueConnectionError, match="cannot reach http://s"):
        c.playlist("jazz")
    assert not c.ready()


def test_error_bodies_of_any_shape_become_api_errors():
    e = api_error(httpx.Response(502, text="Bad Gateway"))
    assert e.status == 502 and e.message == "Bad Gateway"
    e = api_error(httpx.Response(404, json={"detail": "Not Found"}))
    assert e.message == "Not Found"
    with pytest.raises(ValueError, match="http"):
        SegueClient("127.0.0.1:8000")
