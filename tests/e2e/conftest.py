"""One real local Ray Serve graph for the e2e tier, on the shipped catalog, over real HTTP.

Tracing is on for the whole tier, exporting OTLP/HTTP to a real receiver in this
process, and Ray's Prometheus endpoint is on a known port: the observability
tests read both (tests/e2e/test_observability.py)."""

from __future__ import annotations

import os
import tempfile

import pytest

from serving.config import AppConfig
from serving.server import start_local_graph
from tests.conftest import free_port

# Every graph of this tier runs in one Ray started by whichever test comes first, and
# replicas read the admin token at start-up: so the tier sets it before any Ray starts.
E2E_ADMIN_TOKEN = "e2e-admin-token"
os.environ["SEGUE_ADMIN_TOKEN"] = E2E_ADMIN_TOKEN


# Short edge timeouts for the whole tier (they live in Serve's proxy, started once), so the
# slow-client tests of test_edge_adversarial.py finish in seconds.
EDGE_TIMEOUTS = {"header_s": 2.0, "body_s": 2.0, "keep_alive_s": 2, "request_s": 120.0}


def e2e_config(**overrides) -> AppConfig:
    small = {"resources": {"num_cpus": 0.25}, "autoscaling": {"min_replicas": 1, "max_replicas": 1}}
    data = {"http": {"port": free_port(), "timeouts": EDGE_TIMEOUTS},
            "deployments": {k: small for k in ("ingress", "intent", "retriever", "ranker")},
            # The fuzz and acceptance tests send bursts from one client.
            "security": {"rate_limit": {"requests_per_s": 1000, "burst": 1000, "max_in_flight_per_client": 1000}},
            # The fixed bound: on CI's busy 2 cores answers often take longer than the adaptive
            # bound's 0.5 s target, and these tests check answers, not shedding (unit-tested).
            "admission": {"target_latency_s": 0},
            # A fresh store per graph: counts in one test run never leak into the next.
            "store": {"sqlite_path": os.path.join(tempfile.mkdtemp(prefix="segue-e2e-store-"), "segue.db")}}
    data.update(overrides)
    return AppConfig.from_dict(data)


@pytest.fixture(scope="session")
def otlp_receiver():
    from serving.tools.otlp_receiver import OtlpReceiver

    receiver = OtlpReceiver(port=free_port()).start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="session")
def otlp_collector(otlp_receiver, tmp_path_factory):
    """A real third-party OTLP pipeline between the graph and the receiver: rotel (PyPI, the
    `test` extra) receives OTLP/HTTP and re-exports it gzip-compressed, as the OpenTelemetry
    Collector's otlphttp exporter does. None where rotel is not installed (the graph then
    exports to the receiver directly and the pipeline test skips)."""
    import subprocess
    import time
    from importlib import resources

    try:
        agent = resources.files("rotel") / "rotel-agent"
    except ModuleNotFoundError:
        yield None
        return
    port = free_port()
    log = open(tmp_path_factory.mktemp("rotel") / "rotel.log", "w")
    proc = subprocess.Popen(
        [str(agent), "start", "--otlp-http-endpoint", f"127.0.0.1:{port}",
         "--otlp-grpc-endpoint", f"127.0.0.1:{free_port()}", "--exporter", "otlp",
         "--otlp-exporter-endpoint", otlp_receiver.endpoint, "--otlp-exporter-protocol", "http",
         "--batch-timeout", "100ms", "--pid-file", str(tmp_path_factory.mktemp("rotel-pid") / "rotel.pid")],
        stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # listening once it answers anything over HTTP
        try:
            httpx.post(f"{endpoint}/v1/traces", content=b"", timeout=1)
            break
        except httpx.HTTPError:
            if proc.poll() is not None:
                pytest.fail(f"rotel-agent exited with {proc.returncode}; see {log.name}")
            time.sleep(0.1)
    yield endpoint
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="session")
def metrics_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def base_url(otlp_receiver, otlp_collector, metrics_port):
    import ray
    from ray import serve

    os.environ.setdefault("OTEL_BSP_SCHEDULE_DELAY", "200")  # spans reach the receiver within ~0.2 s
    telemetry = {"enabled": True, "otlp_endpoint": otlp_collector or otlp_receiver.endpoint, "service_name": "segue-e2e",
                 "metrics_export_port": metrics_port}
    url = start_local_graph(e2e_config(telemetry=telemetry))
    yield url
    serve.shutdown()
    ray.shutdown()
