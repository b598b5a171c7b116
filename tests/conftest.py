"""Shared fixtures; tests are marked by their tier folder (unit, integration, e2e, k8s, browser, gpu)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests check logic, not speed: on a loaded 2-core CI box hypothesis's default
# 200 ms per-example deadline fails correct code.
settings.register_profile("segue", deadline=None)
settings.load_profile("segue")

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SHARED = ROOT.parent / "shared"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pytest_collection_modifyitems(config, items):
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT / "tests").parts
        if parts and parts[0] in ("unit", "integration", "e2e", "k8s", "browser", "gpu"):
            item.add_marker(getattr(pytest.mark, parts[0]))


@pytest.fixture(scope="session")
def mini_catalog_path() -> Path:
    return DATA / "mini_catalog.jsonl"


@pytest.fixture(scope="session")
def embedder():
    from serving.config import EmbedderConfig
    from serving.retrieval.embedder import make_embedder

    return make_embedder(EmbedderConfig())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL on loopback for the whole session (skipped where no server binaries
    exist, unless SEGUE_REQUIRE_POSTGRES=1, which scripts/test sets: then it fails)."""
    from tests.pg_server import PostgresServer, find_bindir

    bindir = find_bindir()
    if bindir is None:
        msg = "no PostgreSQL server binaries (initdb); scripts/test installs them (scripts/_env.sh ensure_postgres)"
        if os.environ.get("SEGUE_REQUIRE_POSTGRES") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    server = PostgresServer(bindir).init().start()
    yield server
    server.cleanup()
