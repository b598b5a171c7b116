"""One request path through a real local Ray Serve graph over HTTP with the `vllm`
intent backend (vLLM CPU build, tiny random-weight model made at test time).

While the engine loads, playlists are answered with the fast parser's intent;
once it is up, intents come from the LLM. Every response is a 200 either way.
"""

import importlib.util
import os
import socket
import time

import httpx
import pytest

from serving.config import AppConfig
from serving.intent.tiny_model import cached_tiny_model

pytestmark = [pytest.mark.e2e, pytest.mark.llm]

if importlib.util.find_spec("vllm") is None:
    if os.environ.get("SEGUE_REQUIRE_LLM"):
        raise RuntimeError("vLLM is not installed but SEGUE_REQUIRE_LLM is set: pip install -e '.[llm]'")
    pytest.skip("vLLM not installed (pip install -e '.[llm]')", allow_module_level=True)

PORTS = range(8300, 8400)  # this feature's test port range on shared machines


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


@pytest.fixture(scope="module")
def base_url():
    import ray
    from ray import serve

    from serving.app import build_app

    config = AppConfig.from_dict({
        "name": "segue-vllm-e2e",
        "intent": {"backend": "vllm", "deadline_ms": 120_000,
                   "vllm": {"model": str(cached_tiny_model()), "max_model_len": 4096, "max_tokens": 1024}},
    })
    port = _free_port()
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(build_app(config), name=config.name, route_prefix="/", blocking=False)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.delete(config.name)
        if started:
            serve.shutdown()
            ray.shutdown()


def test_playlists_are_answered_while_loading_and_then_by_the_llm(base_url):
    deadline = time.monotonic() + 900
    seen = []
    with httpx.Client(base_url=base_url, timeout=180) as client:
        while time.monotonic() < deadline:
            try:
                if client.get("/readyz").status_code != 200:
                    time.sleep(2)
                    continue
            except httpx.HTTPError:
                time.sleep(2)
                continue
            r = client.post("/v1/playlists", json={"prompt": "upbeat 80s synthpop for a morning run, no ballads",
                                                   "length": 10})
            assert r.status_code == 200, r.text
            body = r.json()
            assert len(body["tracks"]) == 10
            assert body["versions"]["intent_backend"] == "vllm" and body["versions"]["intent_prompt"] == "v1"
            seen.append(body["intent"]["source"])
            if seen[-1] == "llm":
                break
            assert seen[-1] == "fallback_error"  # engine still loading: the parser answered
            time.sleep(2)
    assert seen and seen[-1] == "llm", f"the LLM never answered: {seen}"
