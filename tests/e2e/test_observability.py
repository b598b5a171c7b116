"""Observability end to end: a real local Ray Serve graph with tracing on, exporting
OTLP/HTTP to a real receiver, and a real Prometheus server scraping Ray's metrics.

Uses the e2e tier's one session graph (tests/e2e/conftest.py starts it with
tracing on). Needs the `prometheus` Debian package for the Prometheus tests
(scripts/test installs it).
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from serving.tools.otlp_receiver import OtlpReceiver, SpanRecord, format_tree

ROOT = Path(__file__).resolve().parents[2]
OBS = ROOT / "observability"
STAGES = ("IntentModel", "Retriever", "Ranker")
SEGUE_SPANS = {"segue.ingress": "Ingress", "segue.intent": "IntentModel", "segue.retrieval": "Retriever",
               "segue.ranking": "Ranker"}


def port_in(lo: int, hi: int, exclude: tuple[int, ...] = ()) -> int:
    """A free port in this suite's assigned range (the machine is shared)."""
    for port in range(lo, hi + 1):
        if port in exclude:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    pytest.fail(f"no free port in {lo}-{hi}")


class Graph:
    def __init__(self, base: str, receiver: OtlpReceiver, metrics_port: int):
        self.base = base
        self.receiver = receiver
        self.metrics_port = metrics_port

    def playlist(self, prompt: str, headers: dict | None = None, **body) -> httpx.Response:
        return httpx.post(f"{self.base}/v1/playlists", json={"prompt": prompt, **body}, headers=headers or {},
                          timeout=60)

    def trace(self, trace_id: str, timeout_s: float = 30) -> list[SpanRecord]:
        """Every span of one trace, once all of them are in: the Segue spans, the proxy
        span, and a parent for every span but one (each process exports in its own batches)."""

        def complete(spans: list[SpanRecord]) -> bool:
            ids = {s.span_id for s in spans}
            return (set(SEGUE_SPANS) <= {s.name for s in spans}
                    and any(s.name.startswith("proxy_http_request") for s in spans)
                    and sum(s.parent_id not in ids for s in spans) == 1)

        return self.receiver.wait_for(complete, timeout_s=timeout_s, trace_id=trace_id)

    def scrape(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).text


@pytest.fixture(scope="module")
def graph(base_url, otlp_receiver, metrics_port):
    """The tier's session graph (tests/e2e/conftest.py), started with tracing on."""
    return Graph(base_url, otlp_receiver, metrics_port)


def new_traceparent() -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


def ancestors(span: SpanRecord, by_id: dict[str, SpanRecord]) -> list[str]:
    out, cur = [], span
    while cur.parent_id in by_id:
        cur = by_id[cur.parent_id]
        out.append(cur.name)
    return out


def test_one_request_is_one_connected_trace_across_every_deployment(graph):
    traceparent, trace_id, client_span = new_traceparent()
    r = graph.playlist("rainy sunday jazz, nothing too upbeat", headers={"traceparent": traceparent}, length=10)
    assert r.status_code == 200, r.text
    body = r.json()
    # The client's trace continues through Segue, and the trace id comes back in header and body.
    assert body["trace_id"] == trace_id
    assert r.headers["x-trace-id"] == trace_id
    assert r.headers["traceresponse"].startswith(f"00-{trace_id}-")

    spans = graph.trace(trace_id)
    print("\n" + format_tree(spans, versions=True))
    assert {s.trace_id for s in spans} == {trace_id}
    by_id = {s.span_id: s for s in spans}
    by_name = {s.name: s for s in spans}
    # Exactly one root: the proxy span, whose parent is the client's span.
    roots = [s for s in spans if s.parent_id not in by_id]
    assert [s.name for s in roots] == ["proxy_http_request Ingress POST /v1/playlists"], [s.name for s in roots]
    assert roots[0].parent_id == client_span

    ingress = by_name["segue.ingress"]
    assert ancestors(ingress, by_id)[:1] == ["replica_handle_request Ingress __call__"]
    assert ancestors(ingress, by_id)[-1] == roots[0].name
    for name, deployment in SEGUE_SPANS.items():
        s = by_name[name]
        chain = ancestors(s, by_id)
        if name != "segue.ingress":
            # segue.<stage> -> Ray's replica span of that deployment -> Ray's handle call -> segue.ingress
            assert chain[0].startswith(f"replica_handle_request {deployment} "), chain
            assert chain[1].startswith(f"route_to_replica {deployment} "), chain
            assert chain[2] == "segue.ingress", chain
        assert s.attributes["segue.arm"] == body["arm"]
        assert s.attributes["segue.request_id"] == body["request_id"]
        assert s.service == "segue-e2e"
        assert s.status != "ERROR"

    versions = body["versions"]
    assert {"intent_backend", "embedder", "index", "catalog", "ranker"} <= set(versions)
    # The ingress span carries every component version; each stage span carries its own.
    for k, v in versions.items():
        assert ingress.attributes[f"segue.version.{k}"] == v
    assert by_name["segue.intent"].attributes["segue.version.intent_backend"] == versions["intent_backend"]
    for k in ("embedder", "index", "catalog"):
        assert by_name["segue.retrieval"].attributes[f"segue.version.{k}"] == versions[k]
    assert by_name["segue.ranking"].attributes["segue.version.ranker"] == versions["ranker"]
    n = by_name["segue.retrieval"].attributes["segue.candidates"]
    assert n > 0 and by_name["segue.ranking"].attributes["segue.candidates"] == n
    assert by_name["segue.ranking"].attributes["segue.tracks"] == len(body["tracks"]) == 10
    assert ingress.attributes["http.response.status_code"] == 200


def test_request_without_traceparent_still_yields_a_single_trace(graph):
    r = graph.playlist("upbeat 80s synth pop for a run")
    assert r.status_code == 200, r.text
    trace_id = r.headers["x-trace-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", trace_id) and r.json()["trace_id"] == trace_id
    spans = graph.trace(trace_id)
    by_id = {s.span_id: s for s in spans}
    roots = [s for s in spans if s.parent_id not in by_id]
    assert [(s.name, s.parent_id) for s in roots] == [("proxy_http_request Ingress POST /v1/playlists", None)]
    # No span of this request leaked into another trace.
    rid = r.json()["request_id"]
    elsewhere = [s.name for s in graph.receiver.spans() if s.attributes.get("segue.request_id") == rid
                 and s.trace_id != trace_id]
    assert elsewhere == []


def test_spans_through_a_third_party_otlp_pipeline_stay_one_trace_per_request(graph, otlp_collector):
    """The tier exports through rotel (a real OTLP collector from PyPI) to the receiver; rotel
    re-batches spans of many requests and gzips them. Each request is still one connected
    trace holding every stage span, and nothing of it lands in another trace."""
    if otlp_collector is None:
        pytest.skip("rotel is not installed (pip install rotel; the `test` extra has it)")
    from concurrent.futures import ThreadPoolExecutor

    before = graph.receiver.encodings.get("gzip", 0)
    prompts = ["late night lo-fi beats", "90s hip hop party", "calm piano for studying", "heavy metal workout",
               "sunny reggae afternoon", "sad indie songs"]
    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda p: graph.playlist(p, length=5), prompts))
    assert [r.status_code for r in responses] == [200] * len(prompts)
    for r in responses:
        trace_id = r.headers["x-trace-id"]
        spans = graph.trace(trace_id)
        by_id = {s.span_id: s for s in spans}
        assert set(SEGUE_SPANS) <= {s.name for s in spans}
        assert sum(s.parent_id not in by_id for s in spans) == 1  # one root: one connected trace
        rid = r.json()["request_id"]
        assert all(s.trace_id == trace_id for s in graph.receiver.spans() if s.attributes.get("segue.request_id") == rid)
    assert graph.receiver.encodings.get("gzip", 0) > before  # they came through rotel, gzip-compressed


def test_errors_are_traced_with_status_and_trace_id(graph):
    traceparent, trace_id, _ = new_traceparent()
    r = graph.playlist("", headers={"traceparent": traceparent})
    assert r.status_code == 422
    # Even a request rejected by validation names its trace for the on-call engineer.
    assert r.headers["x-trace-id"] == trace_id
    spans = graph.receiver.wait_for(lambda s: any(x.name.startswith("proxy_http_request") for x in s),
                                    trace_id=trace_id)
    proxy = next(s for s in spans if s.name.startswith("proxy_http_request"))
    assert proxy.attributes.get("http.status_code") in (422, "422")


# --- Prometheus ------------------------------------------------------------------------------


def _intent_fallback_metrics() -> None:
    """Intent fallbacks only happen when an LLM backend fails, and experiment events only
    when an experiment runs; this CPU graph runs the fast parser alone, with no experiment:
    record them through the same recorder and Ray export path the IntentModel and the
    Ingress use, from this Ray driver, so the live scrape shows them under their exported
    names. (Their recording is unit-tested in test_telemetry and test_experiment_runtime.)"""
    from serving.metrics import default_metrics

    default_metrics.cache_clear()
    default_metrics().intent_fallback("invalid_output", "vllm", "control", "none", prompt_version="v1")
    default_metrics().experiment_event("e2e", "control", "exposure")


@pytest.fixture(scope="module")
def prometheus(graph, tmp_path_factory):
    exe = shutil.which("prometheus")
    if exe is None:
        pytest.skip("the `prometheus` server is not installed: scripts/test installs it "
                    "(apt-get install prometheus); see docs/observability.md")
    # Traffic for the per-arm series: playlists, a search, a client error, feedback.
    for prompt in ("late night lo-fi beats to study", "classic rock road trip", "quiet piano for sleeping"):
        assert graph.playlist(prompt).status_code == 200
    assert httpx.post(f"{graph.base}/v1/search", json={"query": "daft punk"}, timeout=60).status_code == 200
    assert graph.playlist("x", length=1000).status_code == 422
    # Listener feedback through the real endpoint: counted once, by the Ingress replica's ExperimentRuntime.
    served = graph.playlist("sunny afternoon indie pop", length=3).json()
    r = httpx.post(f"{graph.base}/v1/feedback", json={"playlist_id": served["playlist_id"],
                                                        "track_id": served["tracks"][0]["track_id"], "event": "like"},
                   timeout=30)
    assert r.status_code == 200 and r.json()["counted"], r.text
    _intent_fallback_metrics()

    d = tmp_path_factory.mktemp("prometheus")
    port = port_in(9190, 9199, exclude=(graph.metrics_port,))
    cfg = d / "prometheus.yml"
    cfg.write_text(json.dumps({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(OBS / "alerts.yaml")],
        "scrape_configs": [{"job_name": "ray", "static_configs": [{"targets": [f"127.0.0.1:{graph.metrics_port}"]}]}],
    }))
    log = open(d / "prometheus.log", "w")
    proc = subprocess.Popen([exe, f"--config.file={cfg}", f"--storage.tsdb.path={d / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:  # the API answers 503 until the TSDB is open
            try:
                if httpx.get(f"{url}/-/ready", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"prometheus did not become ready; see {d / 'prometheus.log'}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def promql(prom: str, query: str, until=lambda result: bool(result), timeout_s: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            r = httpx.get(f"{prom}/api/v1/query", params={"query": query}, timeout=10)
            if r.status_code == 503:
                raise httpx.HTTPError("prometheus is not ready")
            data = r.json()
            assert data["status"] == "success", data
            result = data["data"]["result"]
            if until(result):
                return result
        except httpx.HTTPError:
            result = None
        if time.monotonic() > deadline:
            pytest.fail(f"PromQL {query!r} gave {result!r} after {timeout_s:.0f}s")
        time.sleep(1)


APP = 'application="segue"'  # the e2e session graph's app name (AppConfig's default)


def test_prometheus_answers_per_arm_queries(graph, prometheus):
    # The tier's other apps (experiments, vLLM prompt arms) share this Ray and its metrics
    # port: look only at the session graph's own series.
    by_arm = promql(prometheus, f'sum by (arm) (ray_segue_requests_total{{{APP}, route="playlist", code="200"}})',
                    until=lambda res: res and float(res[0]["value"][1]) >= 3)
    assert {x["metric"]["arm"] for x in by_arm} == {"control"}
    p99 = promql(prometheus, "histogram_quantile(0.99, sum by (le, stage, arm) "
                             f"(rate(ray_segue_stage_duration_seconds_bucket{{{APP}}}[1m])))",
                 until=lambda res: len(res) == 3)
    assert {(x["metric"]["stage"], x["metric"]["arm"]) for x in p99} == {
        ("intent", "control"), ("retrieval", "control"), ("ranking", "control")}
    cand = promql(prometheus, f"sum by (arm) (ray_segue_candidates_retrieved_count{{{APP}}})")
    assert cand[0]["metric"]["arm"] == "control" and float(cand[0]["value"][1]) >= 4
    fb = promql(prometheus, f'sum by (arm, event, deployment) (ray_segue_feedback_events_total{{{APP}}})')
    assert [(x["metric"]["arm"], x["metric"]["event"], x["metric"]["deployment"]) for x in fb] == [
        ("control", "like", "Ingress")]
    # The alert rules load and evaluate against the live series.
    rules = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    assert rules and all(r.get("health") in ("ok", "unknown") for g in rules for r in g["rules"]), rules


def _dashboard_queries() -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and template variable of every dashboard."""
    out = []
    for path in sorted((OBS / "dashboards").glob("*.json")):
        dash = json.loads(path.read_text())
        for panel in dash["panels"]:
            for target in panel.get("targets", []):
                out.append((f"{path.name}: {panel['title']}", target["expr"]))
        for var in dash["templating"]["list"]:
            if var["type"] == "query":
                out.append((f"{path.name}: variable {var['name']}", var["definition"]))
    return out


def _grafana_to_promql(expr: str) -> str:
    return expr.replace("$__rate_interval", "1m").replace("$experiment", ".*").replace("$arm", ".*")


def test_a_burst_past_the_proxy_bound_is_shed_at_once_and_counted(graph, prometheus):
    """More concurrent playlist requests than the proxy's in-flight bound (the tier's graphs: 15):
    the excess is answered 503 + Retry-After by the proxy itself (serving/edge/shed.py), the rest
    200, nothing lost, and the sheds are counted in ray_segue_edge_shed_total."""
    from concurrent.futures import ThreadPoolExecutor

    n = 48
    barrier = threading.Barrier(n)

    def one(i: int) -> httpx.Response:
        barrier.wait()
        return graph.playlist(f"burst {i} of upbeat summer pop", length=5)

    with ThreadPoolExecutor(n) as pool:
        answers = list(pool.map(one, range(n)))
    assert {r.status_code for r in answers} <= {200, 503}, [r.text[:200] for r in answers if r.status_code not in (200, 503)]
    shed = [r for r in answers if r.status_code == 503]
    assert all(r.headers.get("retry-after") == "1" and r.json()["error"] == "overloaded" for r in shed)
    at_proxy = [r for r in shed if "at this proxy" in r.json()["message"]]
    assert at_proxy, f"no request was shed by the proxy: {[r.status_code for r in answers]}"
    assert any(r.status_code == 200 for r in answers)
    counted = promql(prometheus, 'sum(ray_segue_edge_shed_total{route="playlist"})',
                     until=lambda res: res and float(res[0]["value"][1]) >= len(at_proxy))
    assert float(counted[0]["value"][1]) >= len(at_proxy)


def test_dashboards_only_query_metrics_the_service_exports(graph, prometheus):
    queries = _dashboard_queries()
    used: dict[str, set[str]] = {}
    for where, expr in queries:
        for name in re.findall(r"\b(ray_[a-z0-9_]+)", expr):
            used.setdefault(name, set()).add(where)
    assert len(used) >= 10, used
    # Wait until the last recorded metrics reached the endpoint (Ray exports every few seconds).
    deadline = time.monotonic() + 60
    while True:
        text = graph.scrape()
        exported = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and line[0] != "#"}
        missing = {n: sorted(where) for n, where in used.items() if n not in exported}
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert not missing, f"dashboards query metrics that the live endpoint does not export: {missing}"
    # Every panel query is valid PromQL that the real server evaluates.
    for where, expr in queries:
        if expr.startswith("label_values("):
            continue
        r = httpx.get(f"{prometheus}/api/v1/query", params={"query": _grafana_to_promql(expr)}, timeout=10).json()
        assert r["status"] == "success", f"{where}: {r.get('error')}"
