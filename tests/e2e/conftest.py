"""One real local Ray Serve graph for the e2e tier, on the shipped catalog, over real HTTP."""

from __future__ import annotations

import os

import pytest

from serving.config import AppConfig
from serving.server import start_local_graph
from tests.conftest import free_port

# Every graph of this tier runs in one Ray started by whichever test comes first, and
# replicas read the admin token at start-up: so the tier sets it before any Ray starts.
E2E_ADMIN_TOKEN = "e2e-admin-token"
os.environ["SEGUE_ADMIN_TOKEN"] = E2E_ADMIN_TOKEN


def e2e_config(**overrides) -> AppConfig:
    small = {"resources": {"num_cpus": 0.25}, "autoscaling": {"min_replicas": 1, "max_replicas": 1}}
    data = {"http": {"port": free_port()},
            "deployments": {k: small for k in ("ingress", "intent", "retriever", "ranker")},
            # The fuzz and acceptance tests send bursts from one client.
            "security": {"rate_limit": {"requests_per_s": 1000, "burst": 1000}}}
    data.update(overrides)
    return AppConfig.from_dict(data)


@pytest.fixture(scope="session")
def base_url():
    import ray
    from ray import serve

    url = start_local_graph(e2e_config())
    yield url
    serve.shutdown()
    ray.shutdown()
