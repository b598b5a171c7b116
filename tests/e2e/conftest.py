"""One real local Ray Serve graph for the e2e tier, on the shipped catalog, over real HTTP."""

from __future__ import annotations

import time

import httpx
import pytest

from serving.config import AppConfig
from tests.conftest import free_port


def start_graph(cfg: AppConfig, timeout_s: float = 300) -> str:
    import ray
    from ray import serve

    from serving.app import build_app
    from serving.retrieval.prebuild import ensure_index

    ensure_index(cfg, quiet=True)  # as scripts/run does: build in this process, replicas load the cache
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": cfg.http.port})
    serve.run(build_app(cfg), name=cfg.name, route_prefix="/", blocking=False)
    base = f"http://127.0.0.1:{cfg.http.port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                return base
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"graph not ready after {timeout_s}s")


def e2e_config(**overrides) -> AppConfig:
    small = {"resources": {"num_cpus": 0.25}, "autoscaling": {"min_replicas": 1, "max_replicas": 1}}
    data = {"http": {"port": free_port()},
            "deployments": {k: small for k in ("ingress", "intent", "retriever", "ranker")}}
    data.update(overrides)
    return AppConfig.from_dict(data)


@pytest.fixture(scope="session")
def base_url():
    import ray
    from ray import serve

    url = start_graph(e2e_config())
    yield url
    serve.shutdown()
    ray.shutdown()
