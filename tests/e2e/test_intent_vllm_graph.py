"""One request path through a real local Ray Serve graph over HTTP with the `vllm`
intent backend (vLLM CPU build, tiny random-weight model made at test time).

While the engine loads, playlists are answered with the fast parser's intent;
once it is up, intents come from the LLM. Every response is a 200 either way.
The app runs a prompt experiment (arms that differ only in prompt_version): one
engine, and each arm is served with its own template, as responses and spans say.
"""

import importlib.util
import os
import time

import secrets

import httpx
import pytest

from serving.intent.tiny_model import cached_tiny_model

pytestmark = [pytest.mark.e2e, pytest.mark.llm]

if importlib.util.find_spec("vllm") is None:
    if os.environ.get("SEGUE_REQUIRE_LLM"):
        raise RuntimeError("vLLM is not installed but SEGUE_REQUIRE_LLM is set: pip install -e '.[llm]'")
    pytest.skip("vLLM not installed (pip install -e '.[llm]')", allow_module_level=True)

PROMPT_EXPERIMENT = {"id": "prompt-ab", "salt": "e2e", "arms": [
    {"name": "prompt-v1", "weight": 0.5}, {"name": "prompt-v2", "weight": 0.5, "components": {"prompt_version": "v2"}}]}
ARM_PROMPT = {"prompt-v1": "v1", "prompt-v2": "v2"}


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
        experiment=PROMPT_EXPERIMENT,
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
            assert body["versions"]["intent_backend"] == "vllm"
            assert body["versions"]["intent_prompt"] == ARM_PROMPT[body["arm"]]
            seen.append(body["intent"]["source"])
            if seen[-1] == "llm":
                break
            assert seen[-1] == "fallback_error"  # engine still loading: the parser answered
            time.sleep(2)
    assert seen and seen[-1] == "llm", f"the LLM never answered: {seen}"


def test_each_prompt_arm_is_served_with_its_own_template_in_responses_and_spans(vllm_url, otlp_receiver):
    """Runs after the test above: the engine is up. The admin override picks each arm in turn."""
    from tests.e2e.conftest import E2E_ADMIN_TOKEN

    with httpx.Client(base_url=vllm_url, timeout=180) as client:
        for arm, version in ARM_PROMPT.items():
            trace_id = secrets.token_hex(16)
            r = client.post("/v1/playlists", json={"prompt": "rainy sunday jazz, nothing too upbeat", "length": 5},
                            headers={"x-segue-arm": arm, "authorization": f"Bearer {E2E_ADMIN_TOKEN}",
                                     "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["arm"] == arm and body["experiment_id"] == "prompt-ab"
            assert body["intent"]["source"] == "llm", body["intent"]
            assert body["versions"]["intent_prompt"] == version

            def intent_span(spans):
                return any(s.name == "segue.intent" for s in spans)

            spans = otlp_receiver.wait_for(intent_span, timeout_s=30, trace_id=trace_id)
            (span,) = [s for s in spans if s.name == "segue.intent"]
            assert span.attributes["segue.version.intent_prompt"] == version
            assert span.attributes["segue.version.intent_backend"] == "vllm" and span.attributes["segue.arm"] == arm
