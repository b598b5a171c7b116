"""One real local Ray Serve graph for the browser tier, a running experiment with traffic
and two rollout-controller decisions, and Debian's Chromium driven by Playwright.

Screenshots go to out/browser/ (or $SEGUE_ARTIFACTS); the path is printed."""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from pathlib import Path

import pytest

from serving.config import AppConfig
from tests.conftest import ROOT, free_port

# Replicas read the admin token at start-up: set before any Ray starts.
ADMIN_TOKEN = "browser-admin-token"
os.environ["SEGUE_ADMIN_TOKEN"] = ADMIN_TOKEN
CHROMIUM = os.environ.get("SEGUE_CHROMIUM", "/usr/bin/chromium")
# No network beyond loopback, no first-run or update traffic.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EXPERIMENT_ID = "browser-canary"
EXPERIMENT = {
    "id": EXPERIMENT_ID, "salt": "browser-salt", "control": "control",
    "arms": [{"name": "control", "weight": 1.0, "components": {"ranker": "baseline-v1"}},
             {"name": "canary", "weight": 0.0, "components": {"ranker": "baseline-v2"}}],
}
PROMPTS = ["rainy sunday jazz, nothing too upbeat", "heavy metal to work out to", "90s hip hop party",
           "calm piano for studying", "80s synthpop for a morning run"]


@pytest.fixture(scope="session")
def artifacts() -> Path:
    out = Path(os.environ.get("SEGUE_ARTIFACTS", ROOT / "out" / "browser"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"\nbrowser tier: screenshots in {out}")
    return out


def _traffic(client, n: int, seed: int) -> None:
    """Listeners from a fixed script: each likes 0-3 of the first tracks and skips one."""
    rng = random.Random(seed)
    for i in range(n):
        p = client.playlist(PROMPTS[i % len(PROMPTS)], length=10, user_id=f"browser-listener-{seed}-{i}")
        for t in p.tracks[: rng.randint(0, 3)]:
            client.feedback(p.playlist_id, t.track_id, "like")
        client.feedback(p.playlist_id, p.tracks[-1].track_id, "skip")


@pytest.fixture(scope="session")
def service():
    """(base URL, typed client): an experiment started and promoted by the real controller."""
    import ray
    from ray import serve

    from serving.client import SegueClient
    from serving.rollout.controller import InMemoryStateStore, LogEventSink, RolloutController, ServiceMetricsSource
    from serving.rollout.local import LocalServeActuator, start_local
    from serving.rollout.policy import RolloutPolicy

    small = {"resources": {"num_cpus": 0.25}, "autoscaling": {"min_replicas": 1, "max_replicas": 1}}
    cfg = AppConfig.from_dict({
        # A route prefix: the console's relative links must hold under one.
        "name": "segue-ui", "route_prefix": "/segue", "http": {"port": free_port()},
        "deployments": {k: small for k in ("ingress", "intent", "retriever", "ranker")},
        "experiment": EXPERIMENT,
        "telemetry": {"trace_ui_url": "http://127.0.0.1:16686/trace/{trace_id}"},
        "security": {"rate_limit": {"enabled": False}},
        # Sessions live in the store: a file of this run's own, not the user's default database.
        "store": {"sqlite_path": os.path.join(tempfile.mkdtemp(prefix="segue-browser-store-"), "segue.db")},
    })
    base = start_local(cfg)
    client = SegueClient(base, timeout_s=60, admin_token=ADMIN_TOKEN)
    policy = RolloutPolicy(schedule=(0.5, 1.0), min_served_per_step=10, min_guardrail_n=10_000, min_latency_n=10_000)
    ctl = RolloutController(EXPERIMENT_ID, "control", "canary", LocalServeActuator(cfg), ServiceMetricsSource(base),
                            InMemoryStateStore(), LogEventSink(), policy)
    try:
        assert ctl.reconcile().action == "start"  # canary 0 -> 50 %
        _traffic(client, 40, seed=1)
        assert ctl.reconcile().action == "promote", ctl.state().decisions  # -> 100 %
        yield base, client
    finally:
        client.close()
        serve.shutdown()
        ray.shutdown()


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).is_file():
        msg = f"no Chromium at {CHROMIUM}: scripts/test installs it (apt-get install chromium)"
        if os.environ.get("SEGUE_REQUIRE_BROWSER"):
            pytest.fail(msg)
        pytest.skip(msg)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    """A fresh page that fails the test on any script error or CSP violation."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    problems: list[str] = []
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    pg.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
          if m.type == "error" and "status of 4" not in m.text else None)
    pg.problems = problems
    yield pg
    ctx.close()
    assert not problems, problems
