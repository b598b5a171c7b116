"""The edge's re-sending of requests lost with their Ingress replica (serving/edge/retry.py),
without Ray: its policy, and retry.call over a fake proxy app whose replica is gone for a while."""

import asyncio
import json

from serving.edge import retry
from serving.edge.retry import RetryPolicy


def test_pauses_double_up_to_the_cap_and_stop_at_the_budget_or_the_attempt_limit():
    p = RetryPolicy(budget_s=10, first_backoff_s=0.2, max_backoff_s=1.0, max_attempts=20)
    assert [p.pause(n, 0) for n in (1, 2, 3, 4, 5)] == [0.2, 0.4, 0.8, 1.0, 1.0]
    assert p.pause(3, 9.0) == 0.8 and p.pause(3, 9.3) is None  # a try must start inside the budget
    assert p.pause(20, 0) is None
    # The default spans a replacement Ingress replica's start (~4-6 s here) with tries to spare.
    elapsed, n = 0.0, 1
    while (pause := retry.RETRY_POLICY.pause(n, elapsed)) is not None:
        elapsed, n = elapsed + pause, n + 1
    assert 8 <= elapsed < retry.RETRY_POLICY.budget_s and n >= 8


class Proxy:
    """Serve's proxy as the edge sees it: while the replica is down a try ends with no response
    (a request lost with its replica); afterwards it answers 200 with the body it was given."""

    def __init__(self, down_s: float):
        self.down_s, self.calls, self.bodies = down_s, [], []
        self.t0 = None

    async def __call__(self, scope, receive, send):
        loop = asyncio.get_running_loop()
        self.t0 = self.t0 if self.t0 is not None else loop.time()
        self.calls.append(round(loop.time() - self.t0, 2))
        msg = await receive()
        self.bodies.append(msg["body"])
        if loop.time() - self.t0 < self.down_s:
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps({"got": msg["body"].decode()}).encode()})


def run(app, scope, body, disconnect_after_s=None, policy=None):
    sent = []

    async def main():
        loop = asyncio.get_running_loop()
        t0 = loop.time()

        async def receive():  # after the body (already read by the edge) only a disconnect can come
            if disconnect_after_s is None:
                await asyncio.sleep(3600)
            await asyncio.sleep(max(0.0, t0 + disconnect_after_s - loop.time()))
            return {"type": "http.disconnect"}

        async def send(m):
            sent.append(m)

        await retry.call(app, scope, body, receive, send, policy=policy)
        return loop.time() - t0

    return sent, asyncio.run(main())


FAST = RetryPolicy(budget_s=1.0, first_backoff_s=0.02, max_backoff_s=0.1, max_attempts=50)


def test_a_playlist_is_sent_again_until_a_replacement_replica_answers():
    app = Proxy(down_s=0.3)
    sent, took = run(app, {"method": "POST", "path": "/v1/playlists"}, b'{"prompt": "jazz"}', policy=FAST)
    assert sent[0]["status"] == 200 and json.loads(sent[1]["body"]) == {"got": '{"prompt": "jazz"}'}
    assert len(app.calls) >= 3 and set(app.bodies) == {b'{"prompt": "jazz"}'}  # every try got the whole body
    assert 0.3 <= took < FAST.budget_s  # answered once the replica was back, well inside the budget


def test_a_get_without_a_body_is_repeated_with_an_empty_one():
    app = Proxy(down_s=0.1)
    sent, _ = run(app, {"method": "GET", "path": "/v1/experiments"}, None, policy=FAST)
    assert sent[0]["status"] == 200 and set(app.bodies) == {b""} and len(app.calls) >= 2


def test_an_outage_longer_than_the_budget_ends_in_one_json_shaped_500():
    app = Proxy(down_s=60)
    sent, took = run(app, {"method": "POST", "path": "/v1/feedback"}, b"{}", policy=FAST)
    assert sent[0]["status"] == 500 and FAST.budget_s - 0.2 < took < FAST.budget_s + 1.0
    assert sent[1]["body"] == b"the Ingress replica serving this request died"  # the guard re-encodes it as JSON


def test_a_client_that_hangs_up_during_a_pause_gets_no_further_try():
    app = Proxy(down_s=60)
    patient = RetryPolicy(budget_s=30, first_backoff_s=0.02, max_backoff_s=0.1, max_attempts=1000)
    sent, took = run(app, {"method": "POST", "path": "/v1/playlists"}, b"{}", disconnect_after_s=0.3, policy=patient)
    # Only the hang-up can have ended it this soon (the budget is 30 s), and nothing was answered.
    assert sent == [] and 0.3 <= took < 5 and len(app.calls) >= 2


def test_a_session_turn_is_never_repeated():
    app = Proxy(down_s=60)
    sent, _ = run(app, {"method": "POST", "path": "/v1/sessions/s1/turns"}, b"{}", policy=FAST)
    assert len(app.calls) == 1 and sent[0]["status"] == 500


def test_every_try_gets_the_scope_as_the_client_sent_it():
    """Serve's proxy strips the app's route prefix from scope["path"] in place; a second try
    must still see the prefix, or an app served under one answers 404."""
    seen = []

    async def proxy(scope, receive, send):
        await receive()
        seen.append(scope["path"])
        if not scope["path"].startswith("/exp/"):
            await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]})
            return await send({"type": "http.response.body", "body": b"Path not found"})
        scope["path"], scope["root_path"] = scope["path"][len("/exp"):], "/exp"
        if len(seen) == 1:
            return  # the replica died under the first try
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b"{}"})

    scope = {"method": "POST", "path": "/exp/v1/playlists", "root_path": ""}
    sent, _ = run(proxy, scope, b"{}", policy=FAST)
    assert seen == ["/exp/v1/playlists", "/exp/v1/playlists"] and sent[0]["status"] == 200
    assert scope["path"] == "/exp/v1/playlists"
