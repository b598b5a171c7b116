"""The edge's pure parts without Ray: client identity, in-flight limit, head checks,
visible text, the one error encoder, and the EdgeGuard ASGI middleware."""

import asyncio
import json

import pytest

from serving.edge import retry
from serving.edge.config import EdgeLimits, EdgeSettings, EdgeTimeouts
from serving.edge.guard import EdgeGuard, check_head
from serving.errors import RateLimited, Unauthorized, encode_error, retry_after_seconds
from serving.security.client_id import ClientIdentity
from serving.security.concurrency import ConcurrencyLimiter
from serving.security.visible import visible_text
from serving.config import AppConfig, ConfigError


def test_the_socket_peer_is_the_client_unless_it_is_a_trusted_proxy():
    off = ClientIdentity()
    assert off.client("127.0.0.1", ["203.0.113.9"]) == "127.0.0.1"
    on = ClientIdentity(True, ["10.0.0.0/8"])
    assert on.client("192.0.2.1", ["203.0.113.9"]) == "192.0.2.1"  # peer not trusted: XFF ignored
    assert on.client("10.1.2.3", ["203.0.113.9"]) == "203.0.113.9"
    # The client-written left part is ignored: the rightmost untrusted hop is the client.
    assert on.client("10.1.2.3", ["6.6.6.6, 203.0.113.9, 10.9.9.9"]) == "203.0.113.9"
    assert on.client("10.1.2.3", ["6.6.6.6", "203.0.113.9:4711"]) == "203.0.113.9"
    assert on.client("10.1.2.3", ["not-an-ip"]) == "10.1.2.3"
    assert on.client("10.1.2.3", []) == "10.1.2.3"
    assert ClientIdentity(True, ["::1/128"]).client("::1", ["[2001:db8::1]:80"]) == "2001:db8::1"


def test_trust_needs_valid_proxy_cidrs():
    with pytest.raises(ConfigError, match="trusted_proxies"):
        AppConfig.from_dict({"security": {"trust_forwarded_for": True}})
    with pytest.raises(ConfigError, match="not a CIDR"):
        AppConfig.from_dict({"security": {"trust_forwarded_for": True, "trusted_proxies": ["10.0.0.0/33"]}})


def test_in_flight_limit_is_per_client_and_forgets_idle_clients():
    lim = ConcurrencyLimiter(2)
    assert lim.try_acquire("a") and lim.try_acquire("a") and not lim.try_acquire("a")
    assert lim.try_acquire("b")
    lim.release("a")
    assert lim.try_acquire("a")
    for c in ("a", "a", "b"):
        lim.release(c)
    assert lim._in_flight == {}


def test_under_load_each_active_client_gets_an_equal_share():
    lim = ConcurrencyLimiter(4, share_above=4)
    assert all(lim.try_acquire("greedy") for _ in range(4))  # alone, a client may use its maximum
    assert lim.try_acquire("polite")  # nothing in flight: always let in
    assert lim.share("greedy") == 2 and not lim.try_acquire("greedy")
    for _ in range(2):
        lim.release("greedy")
    assert lim.in_flight("greedy") == 2 and not lim.try_acquire("greedy")  # still at its share
    lim.release("polite")
    lim.release("greedy")
    assert lim.try_acquire("greedy")  # load gone: back to the per-client maximum
    assert ConcurrencyLimiter(4).share("x") == 4
    alone = ConcurrencyLimiter(10, share_above=4)
    assert all(alone.try_acquire("only") for _ in range(10)) and not alone.try_acquire("only")


def scope(headers=(), path="/v1/playlists", method="GET", query=b""):
    return {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": query,
            "headers": list(headers), "client": ("127.0.0.1", 5000)}


@pytest.mark.parametrize("headers, code", [
    ([(b"x-request-id", b"caf\xe9")], "invalid_header"),
    ([(b"x-a", b"a\x00b")], "invalid_header"),
    ([(b"x-h%d" % i, b"v") for i in range(101)], "headers_too_large"),
    ([(b"x-big", b"a" * 20_000)], "headers_too_large"),
])
def test_head_checks_name_what_is_wrong(headers, code):
    err = check_head(scope(headers), EdgeSettings())
    assert err is not None and err.code == code


def test_head_checks_pass_utf8_and_refuse_long_urls():
    assert check_head(scope([(b"x-name", "Beyoncé".encode())]), EdgeSettings()) is None
    err = check_head(scope(query=b"q=" + b"a" * 5000), EdgeSettings())
    assert err.code == "uri_too_long"


@pytest.mark.parametrize("text", ["\u200b\u200d", "\u202e\u2066 ", "\x00jazz", "   "])
def test_prompts_need_visible_text(text):
    with pytest.raises(ValueError):
        visible_text(text, "prompt", "jazz")


def test_bidi_controls_are_removed_and_normal_text_kept():
    assert visible_text("rainy \u202esunday\u202c jazz", "prompt", "x") == "rainy sunday jazz"
    assert visible_text("  ☔ jazz 🎷  ", "prompt", "x") == "☔ jazz 🎷"


def test_one_encoder_writes_the_shape_and_headers():
    secs = retry_after_seconds(0.04)
    status, headers, body = encode_error(RateLimited(f"retry after {secs}s", retry_after_s=secs), "rid-1")
    h = dict(headers)
    assert status == 429 and h[b"retry-after"] == b"1" and h[b"x-request-id"] == b"rid-1"
    assert json.loads(body) == {"error": "rate_limited", "message": "retry after 1s", "request_id": "rid-1"}
    _, headers, _ = encode_error(Unauthorized("no"), None)
    assert dict(headers)[b"www-authenticate"].startswith(b"Bearer")


def run_guard(app, sc, body_messages=()):
    sent, queue = [], list(body_messages)

    async def receive():
        if queue:
            return queue.pop(0)
        await asyncio.sleep(3600)

    async def send(m):
        sent.append(m)

    settings = EdgeSettings(timeouts=EdgeTimeouts(body_s=0.2), limits=EdgeLimits(), max_body_bytes=2048)
    asyncio.run(EdgeGuard(app, settings)(sc, receive, send))
    return sent


async def echo_app(scope, receive, send):
    msg = await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"x-request-id", b"inner"), (b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(
        {"headers": [[k.decode(), v.decode()] for k, v in scope["headers"]], "body": msg["body"].decode()}).encode()})


def test_guard_forwards_one_safe_request_id_and_drops_serve_control_headers():
    sc = scope([(b"x-request-id", b"<script>"), (b"x-request-timeout-seconds", b"0"),
                (b"serve-multiplexed-model-id", b"m"), (b"content-length", b"2")], method="POST")
    sent = run_guard(echo_app, sc, [{"type": "http.request", "body": b"{}", "more_body": False}])
    out = dict(json.loads(sent[1]["body"])["headers"])
    assert "x-request-timeout-seconds" not in out and "serve-multiplexed-model-id" not in out
    rid = out["x-request-id"]
    assert rid != "<script>" and len(rid) == 32
    ids = [v for k, v in sent[0]["headers"] if k == b"x-request-id"]
    assert ids == [rid.encode()]


def test_guard_times_out_a_stalled_body_and_caps_its_size():
    sc = scope([(b"content-length", b"200")], method="POST")
    sent = run_guard(echo_app, sc, [{"type": "http.request", "body": b"{", "more_body": True}])
    assert sent[0]["status"] == 408 and (b"connection", b"close") in sent[0]["headers"]
    assert json.loads(sent[1]["body"])["error"] == "request_timeout"
    sent = run_guard(echo_app, scope([(b"content-length", b"9999")], method="POST"))
    assert sent[0]["status"] == 413


def test_guard_reencodes_plain_text_errors():
    async def plain(scope, receive, send):
        await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"Path '/x' not found"})

    sent = run_guard(plain, scope(path="/x"))
    body = json.loads(sent[1]["body"])
    assert sent[0]["status"] == 404 and body["error"] == "not_found" and body["request_id"]


def _dying_then(status_after: int, deaths: int = 1):
    calls = []

    async def app(scope, receive, send):
        msg = await receive()
        calls.append(msg.get("body"))
        if len(calls) <= deaths:  # Serve's proxy (2.60) returns no response for a request lost with its replica
            return
        await send({"type": "http.response.start", "status": status_after,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"ok": true}'})

    return app, calls


def test_a_playlist_lost_with_its_ingress_replica_is_sent_again_with_the_same_body():
    app, calls = _dying_then(200)
    body = b'{"prompt": "jazz"}'
    sc = scope([(b"content-length", str(len(body)).encode())], method="POST", path="/v1/playlists")
    sent = run_guard(app, sc, [{"type": "http.request", "body": body, "more_body": False}])
    assert calls == [body, body] and sent[0]["status"] == 200 and json.loads(sent[1]["body"]) == {"ok": True}


def test_replica_deaths_past_the_retries_and_other_errors_reach_the_client_as_they_are(monkeypatch):
    monkeypatch.setattr(retry, "RETRY_POLICY", retry.RetryPolicy(budget_s=5, first_backoff_s=0.01, max_attempts=3))
    app, calls = _dying_then(200, deaths=10)
    sc = scope([(b"content-length", b"2")], method="POST", path="/v1/playlists")
    sent = run_guard(app, sc, [{"type": "http.request", "body": b"{}", "more_body": False}])
    assert len(calls) == 3 and sent[0]["status"] == 500 and json.loads(sent[1]["body"])["error"] == "internal_error"

    async def proxy_text(scope, receive, send):  # an older proxy's plain-text answer naming the dead actor
        calls.append(2)
        if calls.count(2) == 1:
            await send({"type": "http.response.start", "status": 500, "headers": [(b"content-type", b"text/plain")]})
            return await send({"type": "http.response.body", "body": b"ActorDiedError: The actor died unexpectedly"})
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b"{}"})

    sent = run_guard(proxy_text, scope(path="/v1/experiments/x"))
    assert calls.count(2) == 2 and sent[0]["status"] == 200
    # A session turn is not repeated: its first try may have been stored.
    app, calls = _dying_then(200)
    sc = scope([(b"content-length", b"2")], method="POST", path="/v1/sessions/abc/turns")
    sent = run_guard(app, sc, [{"type": "http.request", "body": b"{}", "more_body": False}])
    assert len(calls) == 1 and sent[0]["status"] == 500

    async def app_error(scope, receive, send):  # a plain 500 that is not a replica death: not retried
        calls.append(1)
        await send({"type": "http.response.start", "status": 500, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"boom"})

    calls.clear()
    sent = run_guard(app_error, scope(path="/v1/experiments/x"))
    assert calls == [1] and sent[0]["status"] == 500


def test_a_client_that_hung_up_is_not_sent_again():
    calls = []

    async def app(scope, receive, send):
        calls.append((await receive())["type"])
        calls.append((await receive())["type"])  # the proxy watches for the disconnect, then gives up

    sc = scope([(b"content-length", b"2")], method="POST", path="/v1/playlists")
    sent = run_guard(app, sc, [{"type": "http.request", "body": b"{}", "more_body": False},
                               {"type": "http.disconnect"}])
    assert calls == ["http.request", "http.disconnect"] and sent == []


def test_serves_own_503_gets_a_retry_after_and_one_already_set_is_kept():
    def app_with(headers):
        async def overloaded(scope, receive, send):
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": b"Request dropped due to backpressure"})
        return overloaded

    sent = run_guard(app_with([(b"content-type", b"text/plain")]), scope(path="/v1/playlists"))
    h = dict(sent[0]["headers"])
    assert sent[0]["status"] == 503 and h[b"retry-after"] == b"1"
    assert json.loads(sent[1]["body"])["error"] == "overloaded"
    sent = run_guard(app_with([(b"content-type", b"text/plain"), (b"retry-after", b"7")]), scope(path="/v1/playlists"))
    assert [v for k, v in sent[0]["headers"] if k == b"retry-after"] == [b"7"]
