"""One request path through a real local Ray Serve graph over HTTP with the `vllm`
intent backend (vLLM CPU build, tiny random-weight model made at test time).

While the engine loads, playlists are answered with the fast parser's intent;
once it is up, intents come from the LLM. Every response is a 200 either way.
"""

import importlib.util
import os
import time

import httpx
import pytest

from serving.intent.tiny_model import cached_tiny_model

pytestmark = [pytest.mark.e2e, pytest.mark.llm]

if importlib.util.find_spec("vllm") is None:
    if os.environ.get("SEGUE_REQUIRE_LLM"):
        raise RuntimeError("vLLM is not installed but SEGUE_REQUIRE_LLM is set: pip install -e '.[llm]'")
    pytest.skip("vLLM not installed (pip install -e '.[llm]')", allow_module_level=True)



@pytest.fixture(scope="module")
def vllm_url(base_url):
    """A second app, with the vllm backend, on the tier's shared local Ray Serve (`base_url`)."""
    from ray import serve

    from serving.app import build_app
    from tests.e2e.conftest import e2e_config

    config = e2e_config(
        name="segue-vllm",
        route_prefix="/vllm",
        intent={"backend": "vllm", "deadline_ms": 120_000,
                "vllm": {"model": str(cached_tiny_model()), "max_model_len": 4096, "max_tokens": 1024}},
    )
    serve.run(build_app(config), name=config.name, route_prefix=config.route_prefix, blocking=False)
    try:
        yield f"{base_url}/vllm"
    finally:
        serve.delete(config.name)


def test_playlists_are_answered_while_loading_and_then_by_the_llm(vllm_url):
    deadline = time.monotonic() + 900
    seen = []
    with httpx.Client(base_url=vllm_url, timeout=180) as client:
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
