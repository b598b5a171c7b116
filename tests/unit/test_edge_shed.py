"""The proxy's load shedding (serving/edge/shed.py) through the EdgeGuard ASGI middleware, without Ray:
past its bound a playlist request is refused at once with 503 + Retry-After and never reaches the
inner app; other routes are not bounded; only real answers move the adaptive bound."""

import asyncio
import json

from serving.admission import Admission
from serving.config import AppConfig
from serving.edge.config import EdgeSettings, EdgeShedding
from serving.edge.guard import EdgeGuard


def request(path="/v1/playlists", method="POST"):
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [(b"content-length", b"2")] if method == "POST" else []}
    messages = [{"type": "http.request", "body": b"{}", "more_body": False}]

    async def receive():
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)

    return scope, receive


class SlowApp:
    """An inner app that holds each request until released, answering with `status`."""

    def __init__(self, status=200):
        self.status, self.seen, self.release = status, 0, asyncio.Event()

    async def __call__(self, scope, receive, send):
        self.seen += 1
        await receive()
        await self.release.wait()
        await send({"type": "http.response.start", "status": self.status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b"{}"})


async def call(guard, path="/v1/playlists", method="POST"):
    sent = []

    async def send(m):
        sent.append(m)

    scope, receive = request(path, method)
    await guard(scope, receive, send)
    return sent


def guard_with(app, **shedding):
    return EdgeGuard(app, EdgeSettings(shedding=EdgeShedding(**shedding)))


def test_past_the_bound_a_playlist_is_refused_at_once_and_never_reaches_the_ingress():
    async def main():
        app = SlowApp()
        guard = guard_with(app, max_in_flight=2, target_latency_s=0)
        held = [asyncio.create_task(call(guard)) for _ in range(2)]
        await asyncio.sleep(0.05)
        refused = await asyncio.wait_for(call(guard), 1)
        assert app.seen == 2  # the third never reached the inner app
        start, body = refused
        headers = dict(start["headers"])
        assert start["status"] == 503 and headers[b"retry-after"] == b"1"
        err = json.loads(body["body"])
        assert err["error"] == "overloaded" and "at this proxy" in err["message"]
        app.release.set()
        answered = await asyncio.gather(*held)
        assert [a[0]["status"] for a in answered] == [200, 200]
        assert (await call(guard))[0]["status"] == 200  # room again once they are answered
        assert guard.shed.admission.in_flight == 0 and guard.shed.admission.rejected == 1

    asyncio.run(main())


def test_other_routes_and_reads_are_not_bounded():
    async def main():
        app = SlowApp()
        guard = guard_with(app, max_in_flight=1, target_latency_s=0)
        held = asyncio.create_task(call(guard))
        await asyncio.sleep(0.05)
        others = [asyncio.create_task(call(guard, "/v1/feedback")), asyncio.create_task(call(guard, "/healthz", "GET"))]
        await asyncio.sleep(0.05)
        assert app.seen == 3
        app.release.set()
        await asyncio.gather(held, *others)

    asyncio.run(main())


def test_off_when_admission_is_off():
    async def main():
        app = SlowApp()
        guard = guard_with(app, enabled=False, max_in_flight=1)
        tasks = [asyncio.create_task(call(guard)) for _ in range(3)]
        await asyncio.sleep(0.05)
        assert app.seen == 3
        app.release.set()
        await asyncio.gather(*tasks)

    asyncio.run(main())


def test_only_answers_move_the_adaptive_bound():
    """Fast 503s from the Ingress's own bound must not raise the proxy's bound; slow answers cut it."""
    t = [0.0]
    shed = EdgeShedding(max_in_flight=20, min_in_flight=4, target_latency_s=0.5)
    adm = Admission(shed, clock=lambda: t[0])
    adm._limit = 10.0
    ticket = adm.enter()
    adm.leave(ticket, counted=False)  # e.g. a 503 from the Ingress
    assert adm.bound == 10
    ticket = adm.enter()
    t[0] += 2.0
    adm.leave(ticket)  # a 2 s answer: over the target, cut by a tenth
    assert adm.bound == 9
    for _ in range(60):  # fast answers raise it again, never past the max
        adm.leave(adm.enter())
    assert 10 <= adm.bound <= 20


def test_the_edge_bound_follows_admission_and_the_ingress_slots():
    cfg = AppConfig.from_dict({"route_prefix": "/segue", "admission": {"max_in_flight": 10, "target_latency_s": 0.25},
                               "deployments": {"ingress": {"max_ongoing_requests": 8,
                                                           "autoscaling": {"min_replicas": 1, "max_replicas": 3}}}})
    s = cfg.edge_settings().shedding
    assert s.max_in_flight == 7 * 3  # each replica's own bound (max_ongoing - 1), all replicas together
    assert s.target_latency_s == 0.25 and s.paths == ("/segue/v1/playlists", "/segue/v1/search")
    assert not AppConfig.from_dict({"admission": {"enabled": False}}).edge_settings().shedding.enabled


def test_a_request_leaves_the_bound_when_its_answer_is_sent_even_if_the_app_lingers():
    """Serve's proxy can keep the inner call open after the last byte went out: the bound counts
    answers in flight, so the slot is free as soon as the response is complete."""
    async def main():
        linger = asyncio.Event()

        async def app(scope, receive, send):
            await receive()
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": b"{}"})
            await linger.wait()  # still "running" after the response

        guard = guard_with(app, max_in_flight=1, target_latency_s=0)
        sent, first = [], None

        async def send(m):
            sent.append(m)

        scope, receive = request()
        first = asyncio.create_task(guard(scope, receive, send))
        await asyncio.sleep(0.05)
        assert sent[0]["status"] == 200 and guard.shed.admission.in_flight == 0
        scope, receive = request()
        second = asyncio.create_task(guard(scope, receive, lambda m: asyncio.sleep(0)))
        await asyncio.sleep(0.05)
        assert guard.shed.admission.rejected == 0  # the first one's slot was already free
        linger.set()
        await asyncio.gather(first, second)
        assert guard.shed.admission.in_flight == 0  # and it is not given back twice

    asyncio.run(main())
