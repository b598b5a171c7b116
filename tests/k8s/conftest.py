"""k8s tier: renders the chart with the pinned real Helm binary (scripts/get-tools fetches
it once into .tools/) and validates what it renders; no cluster needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.k8s.k8s_support import tools_bin

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.k8s)


@pytest.fixture(scope="session", autouse=True)
def _tools() -> Path:
    # Fetch (or find cached) helm and kubectl before any test renders.
    return tools_bin()
