"""Adversarial probe of the edge over raw sockets (bytes exactly as written), against the
real graph behind Ray Serve's real HTTP proxy: one test per finding of issue 17.

The tier's proxy runs with short edge timeouts (tests/e2e/conftest.py: EDGE_TIMEOUTS);
a second app on the same proxy (/edge) has tight per-client limits and trusts one
proxy address. Clients are told apart by their loopback source address (127.0.0.N); only the
XFF-rotation test uses 127.0.0.1 on the tight-limits app.

SEGUE_EDGE_TARGET=http://host:port[,strict-url] points the suite at an already running
server instead (how it was checked to fail on the old code): then that server's
timeouts must be the ones in EDGE_TIMEOUTS and its limits those of STRICT_SECURITY."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import EDGE_TIMEOUTS

STRICT_SECURITY = {
    "rate_limit": {"requests_per_s": 0.5, "burst": 5, "max_in_flight_per_client": 2},
    "trust_forwarded_for": True, "trusted_proxies": ["127.0.0.5/32"],
}
SLACK_S = 3.0  # scheduling noise on a loaded 2-core box, on top of a configured timeout


@dataclass
class Target:
    host: str
    port: int
    prefix: str = ""          # path prefix of the tier app
    strict_prefix: str = ""   # path prefix of the tight-limits app


@dataclass
class Resp:
    status: int = 0
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    closed: bool = False
    elapsed: float = 0.0

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name]

    def json(self) -> dict:
        return json.loads(self.body)


@pytest.fixture(scope="module")
def target(request: pytest.FixtureRequest) -> Target:
    external = os.environ.get("SEGUE_EDGE_TARGET")
    if external:
        base, _, strict = external.partition(",")
        u = urlsplit(base)
        yield Target(u.hostname, u.port, u.path.rstrip("/"), urlsplit(strict or base).path.rstrip("/"))
        return
    base_url = request.getfixturevalue("base_url")  # the tier graph, only without an external target
    from ray import serve

    from serving.app import build_app
    from tests.e2e.conftest import e2e_config

    config = e2e_config(name="segue-edge", route_prefix="/edge", security=STRICT_SECURITY)
    serve.run(build_app(config), name=config.name, route_prefix=config.route_prefix, blocking=False)
    u = urlsplit(base_url)
    t = Target(u.hostname, u.port, "", "/edge")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and send_request(t, "GET", "/edge/readyz").status != 200:
        time.sleep(1)
    try:
        yield t
    finally:
        serve.delete(config.name)


# --- raw HTTP ------------------------------------------------------------------------------------


def connect(t: Target, src: str = "127.0.0.1") -> socket.socket:
    s = socket.create_connection((t.host, t.port), timeout=30, source_address=(src, 0))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_response(s: socket.socket, timeout: float = 30) -> Resp:
    t0 = time.monotonic()
    s.settimeout(timeout)
    buf, r = b"", Resp()
    try:
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                r.closed = True
                break
            buf += chunk
    except (ConnectionResetError, BrokenPipeError):
        r.closed = True
    head, _, rest = buf.partition(b"\r\n\r\n")
    if head:
        lines = head.decode("latin-1").split("\r\n")
        r.status = int(lines[0].split()[1])
        r.headers = [(k.strip().lower(), v.strip()) for k, _, v in (ln.partition(":") for ln in lines[1:])]
        want = int((r.header("content-length") or ["0"])[0])
        try:
            while len(rest) < want:
                chunk = s.recv(65536)
                if not chunk:
                    r.closed = True
                    break
                rest += chunk
        except (ConnectionResetError, BrokenPipeError):
            r.closed = True
    r.body, r.elapsed = rest, time.monotonic() - t0
    return r


def closed_by_server(s: socket.socket, within_s: float) -> float | None:
    """Seconds until the server closed `s` (reading and dropping anything it sends), or None."""
    t0 = time.monotonic()
    s.settimeout(0.5)
    while time.monotonic() - t0 < within_s:
        try:
            if s.recv(65536) == b"":
                return time.monotonic() - t0
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - t0
    return None


def send_request(t: Target, method: str, path: str, headers: dict | list | None = None, body: bytes | None = None,
            src: str = "127.0.0.1", host: str = "segue.test") -> Resp:
    items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + host.encode(), b"Connection: close"]
    for k, v in items:
        lines.append((k.encode() if isinstance(k, str) else k) + b": " + (v.encode() if isinstance(v, str) else v))
    if body is not None:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    with connect(t, src) as s:
        s.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + (body or b""))
        return read_response(s)


def post_json(t: Target, path: str, payload, src: str = "127.0.0.1", headers: dict | None = None) -> Resp:
    return send_request(t, "POST", path, {"Content-Type": "application/json", **(headers or {})},
                   json.dumps(payload).encode() if not isinstance(payload, bytes) else payload, src=src)


def assert_error_shape(r: Resp, status: int, error: str | None = None) -> dict:
    assert r.status == status, (r.status, r.body[:300])
    assert r.header("content-type")[0].startswith("application/json"), r.headers
    body = r.json()
    assert set(body) <= {"error", "message", "request_id", "details"} and body["message"], body
    assert body["request_id"] and r.header("x-request-id") == [body["request_id"]], (body, r.headers)
    if error:
        assert body["error"] == error, body
    return body


# --- 1. header bytes -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", [b"X-Request-ID", b"serve_multiplexed_model_id", b"traceparent", b"X-Other"])
def test_1_non_utf8_header_bytes_get_400_not_500(target, name):
    for path in ("/healthz", "/v1/playlists"):
        r = send_request(target, "GET", target.prefix + path, [(name, b"caf\xe9")])
        body = assert_error_shape(r, 400, "invalid_header")
        assert name.decode().lower() in body["message"].lower()


# --- 2. client identity --------------------------------------------------------------------------


def test_2_rotating_x_forwarded_for_does_not_bypass_the_rate_limit(target):
    path = target.strict_prefix + "/v1/search"
    # From 127.0.0.1 exactly: the peer uvicorn's proxy-headers handling trusted by default.
    statuses = [post_json(target, path, {"query": "jazz", "limit": 1}, src="127.0.0.1",
                          headers={"X-Forwarded-For": f"203.0.113.{i}"}).status for i in range(10)]
    assert statuses.count(429) >= 4, statuses  # burst 5 at 0.5/s: the rest are limited


def test_2_a_trusted_proxy_forwards_its_clients_identity(target):
    path = target.strict_prefix + "/v1/search"
    statuses = [post_json(target, path, {"query": "jazz", "limit": 1}, src="127.0.0.5",
                          headers={"X-Forwarded-For": f"198.51.100.7, 203.0.113.{100 + i}"}).status for i in range(8)]
    assert statuses == [200] * 8, statuses  # eight clients behind one proxy, one request each


# --- 3. slow clients -----------------------------------------------------------------------------


def _slow_headers(t: Target) -> Resp:
    s = connect(t, "127.0.0.6")
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    t0 = time.monotonic()
    try:
        for ch in b"X-Slow: " + b"a" * 200:
            s.sendall(bytes([ch]))
            time.sleep(0.5)
            if time.monotonic() - t0 > EDGE_TIMEOUTS["header_s"] + SLACK_S + 5:
                break
    except (BrokenPipeError, ConnectionResetError):
        pass
    r = read_response(s, timeout=5)
    r.elapsed = time.monotonic() - t0
    s.close()
    return r


def _silent(t: Target) -> Resp:
    s = connect(t, "127.0.0.6")
    t0 = time.monotonic()
    r = read_response(s, timeout=EDGE_TIMEOUTS["header_s"] + SLACK_S + 5)
    r.elapsed = time.monotonic() - t0
    s.close()
    return r


def _body_never_sent(t: Target, chunked: bool) -> Resp:
    s = connect(t, "127.0.0.6")
    framing = b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n" if chunked else b"Content-Length: 200\r\n\r\n{\"pro"
    s.sendall(b"POST " + t.prefix.encode() + b"/v1/playlists HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/json\r\n" + framing)
    t0 = time.monotonic()
    r = read_response(s, timeout=EDGE_TIMEOUTS["body_s"] + SLACK_S + 5)
    r.elapsed = time.monotonic() - t0
    s.close()
    return r


def _idle_keep_alive(t: Target) -> float | None:
    s = connect(t, "127.0.0.6")
    s.sendall(b"GET " + t.prefix.encode() + b"/healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_response(s).status == 200
    gone = closed_by_server(s, EDGE_TIMEOUTS["keep_alive_s"] + SLACK_S + 5)
    s.close()
    return gone


def test_3_slow_clients_are_cut_off_within_the_timeouts_while_others_are_served(target):
    header_s, body_s, idle_s = EDGE_TIMEOUTS["header_s"], EDGE_TIMEOUTS["body_s"], EDGE_TIMEOUTS["keep_alive_s"]
    with ThreadPoolExecutor(8) as pool:
        slow = {
            "silent": pool.submit(_silent, target),
            "headers 1 byte / 0.5 s": pool.submit(_slow_headers, target),
            "content-length, no body": pool.submit(_body_never_sent, target, False),
            "chunked body that stops": pool.submit(_body_never_sent, target, True),
        }
        idle = pool.submit(_idle_keep_alive, target)
        time.sleep(0.5)
        # While four slow connections are open, another client is answered at once.
        others = [send_request(target, "GET", target.prefix + "/healthz", src="127.0.0.7") for _ in range(5)]
        assert all(o.status == 200 for o in others) and max(o.elapsed for o in others) < 2.0, \
            [(o.status, round(o.elapsed, 2)) for o in others]
        for what, fut in slow.items():
            r = fut.result()
            limit = header_s if what in ("silent", "headers 1 byte / 0.5 s") else body_s
            assert r.status == 408, (what, r.status, r.body[:200])
            assert_error_shape(r, 408, "request_timeout")
            assert limit - 0.5 <= r.elapsed <= limit + SLACK_S, (what, r.elapsed)
        gone = idle.result()
        assert gone is not None and gone <= idle_s + SLACK_S, gone


# --- 4. header size and count --------------------------------------------------------------------


def _send_until_answered(t: Target, head: bytes, total: int, filler: bytes) -> tuple[Resp, int]:
    """Send `head` then up to `total` filler bytes, stopping once the server answers or closes."""
    s = connect(t)
    sent = 0
    try:
        s.sendall(head)
        s.setblocking(False)
        while sent < total:
            try:
                sent += s.send(filler[: min(65536, total - sent)])
            except BlockingIOError:
                time.sleep(0.01)
            try:
                if s.recv(1, socket.MSG_PEEK):
                    break
            except BlockingIOError:
                pass
    except (BrokenPipeError, ConnectionResetError):
        pass
    s.setblocking(True)
    r = read_response(s, timeout=10)
    s.close()
    return r, sent


def test_4_an_8_mib_header_is_refused_before_it_is_read(target):
    head = b"GET " + target.prefix.encode() + b"/healthz HTTP/1.1\r\nHost: x\r\nX-Big: "
    r, sent = _send_until_answered(target, head, 8 * 1024 * 1024, b"a" * 65536)
    assert r.status in (431, 0) and r.status != 200, r.status
    if r.status:
        assert_error_shape(r, 431, "headers_too_large")
    # Answered while the client was still sending: the server did not wait for (or buffer)
    # the 8 MiB; what was sent past the limit sat in the kernel's socket buffers.
    assert sent < 8 * 1024 * 1024, sent


def test_4_too_many_headers_and_too_long_urls_are_refused(target):
    many = [(f"X-H{i}", "v") for i in range(5000)]
    assert_error_shape(send_request(target, "GET", target.prefix + "/healthz", many), 431, "headers_too_large")
    assert_error_shape(send_request(target, "GET", target.prefix + "/healthz?q=" + "a" * 10_000), 414, "uri_too_long")
    # Under the limits, still fine.
    assert send_request(target, "GET", target.prefix + "/healthz", [(f"X-H{i}", "v") for i in range(50)]).status == 200


# --- 5. one client cannot take the capacity --------------------------------------------------------


def test_5_a_client_over_its_in_flight_limit_gets_429_while_another_is_served(target):
    path = target.strict_prefix + "/v1/playlists"
    go = threading.Barrier(6)

    def one(_):
        go.wait()
        return post_json(target, path, {"prompt": "long road trip rock", "length": 100}, src="127.0.0.3")

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(one, range(6)))
    other = post_json(target, path, {"prompt": "quiet piano", "length": 5}, src="127.0.0.4")
    limited = [r for r in results if r.status == 429]
    assert limited and all(r.status in (200, 429) for r in results), [r.status for r in results]
    # The sixth request may meet the rate limit (burst 5) before the in-flight limit: both are
    # 429s in the one shape, and at least one must be the in-flight limit's.
    in_flight = [r for r in limited if "in flight" in assert_error_shape(r, 429, "rate_limited")["message"]]
    assert in_flight and in_flight[0].header("retry-after") == ["1"], [r.body[:120] for r in limited]
    assert other.status == 200, other.body[:200]


# --- 6. request ids and redirects ----------------------------------------------------------------


@pytest.mark.parametrize("given", ["<script>alert(1)</script>", "a" * 500, "abc\u202edef", ""])
def test_6_unsafe_request_ids_are_replaced_and_sent_once(target, given):
    r = send_request(target, "GET", target.prefix + "/healthz", [("X-Request-ID", given.encode())])
    assert r.status == 200
    ids = r.header("x-request-id")
    assert len(ids) == 1 and ids[0] != given and len(ids[0]) == 32 and ids[0].isalnum(), ids


def test_6_a_safe_request_id_is_echoed_once_on_success_and_on_errors(target):
    for method, path, body in (("GET", "/healthz", None), ("POST", "/v1/playlists", b'{"prompt": ""}'),
                               ("GET", "/nope", None)):
        r = send_request(target, method, target.prefix + path, {"X-Request-ID": "probe-42",
                                                           "Content-Type": "application/json"}, body)
        assert r.header("x-request-id") == ["probe-42"], (path, r.headers)


def test_6_no_redirect_is_built_from_host(target):
    r = send_request(target, "GET", target.prefix + "/v1/playlists/", host="evil.example")
    assert not r.header("location") and r.status not in (301, 302, 307, 308), r.headers
    assert_error_shape(r, 404, "not_found")


# --- 7. one error shape, strict validation --------------------------------------------------------


@pytest.mark.parametrize("raw", [b"[" * 1000 + b"]" * 1000, b'{"prompt": "x", "length": ' + b"9" * 5000 + b"}",
                                 b'{"prompt": "caf\xe9"}'])
def test_7_unparseable_bodies_get_400_in_the_error_shape(target, raw):
    assert_error_shape(post_json(target, target.prefix + "/v1/playlists", raw), 400)


def test_7_404_and_405_are_in_the_error_shape(target):
    assert_error_shape(send_request(target, "GET", target.prefix + "/v1/nothing-here"), 404, "not_found")
    assert_error_shape(send_request(target, "GET", target.prefix + "/v1/playlists"), 405, "method_not_allowed")


@pytest.mark.parametrize("payload, field", [({"prompt": "jazz", "length": "5"}, "length"),
                                            ({"prompt": "jazz", "length": True}, "length"),
                                            ({"prompt": "\u200b\u200d\u202e\u2066"}, "prompt"),
                                            ({"prompt": "\x00\x00"}, "prompt")])
def test_7_no_type_coercion_and_prompts_need_visible_text(target, payload, field):
    body = assert_error_shape(post_json(target, target.prefix + "/v1/playlists", payload), 422, "invalid_request")
    assert body["details"][0]["field"] == field


def test_7_wrong_content_type_is_415(target):
    r = send_request(target, "POST", target.prefix + "/v1/playlists", {"Content-Type": "text/plain"}, b'{"prompt": "x"}')
    assert_error_shape(r, 415, "unsupported_media_type")


def test_7_experiment_ids_are_bounded(target):
    r = send_request(target, "GET", target.prefix + "/v1/experiments/" + "e" * 1000)
    assert_error_shape(r, 422, "invalid_request")


def test_7_429_body_and_retry_after_agree(target):
    path = target.strict_prefix + "/v1/search"
    for _ in range(12):
        r = post_json(target, path, {"query": "jazz", "limit": 1}, src="127.0.0.8")
        if r.status == 429:
            break
    body = assert_error_shape(r, 429, "rate_limited")
    assert f"retry after {r.header('retry-after')[0]}s" in body["message"], (body, r.headers)


def test_7_401_carries_www_authenticate(target):
    r = post_json(target, target.prefix + "/v1/playlists", {"prompt": "jazz"}, headers={"X-Segue-Arm": "control"})
    assert_error_shape(r, 401, "unauthorized")
    assert r.header("www-authenticate") == ['Bearer realm="segue"']
