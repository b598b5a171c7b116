"""Deadline + fallback around LLM backends, and the OpenAI-compatible backend's wire
format, against fakes that subclass the real interfaces (no vLLM, no network)."""

import asyncio
import json

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from serving.config import AppConfig, ConfigError
from serving.intent.backend import IntentBackend, IntentBackendUnavailable
from serving.intent.fallback import FastParser
from serving.intent.llm_config import OpenAIConfig
from serving.intent.llm_schema import parse_intent
from serving.intent.model import Intent, IntentSource
from serving.intent.openai_backend import OpenAIBackend
from serving.intent.service import IntentService

pytestmark = pytest.mark.unit

GOOD = '{"search_text":"rainy sunday jazz","genres":["jazz"],"moods":["chill"],"activities":[],' \
       '"include_artists":[],"exclude_artists":[],"exclude_terms":[],"era":null,"energy":0.3,"length":null}'


class ScriptedBackend(IntentBackend):
    """An LLM backend whose raw output is scripted: the real parse path runs on it."""

    name = "scripted"

    def __init__(self, text: str = GOOD, delay_s: float = 0.0, error: Exception | None = None):
        self.text, self.delay_s, self.error = text, delay_s, error

    async def generate(self, prompt: str) -> Intent:
        await asyncio.sleep(self.delay_s)
        if self.error is not None:
            raise self.error
        return parse_intent(self.text)


def _service(backend, deadline_s=1.0):
    return IntentService(backend, FastParser(None, ["Miles Davis"]), deadline_s=deadline_s)


@pytest.mark.parametrize(
    "backend, source, reason",
    [
        (ScriptedBackend(), IntentSource.llm, None),
        (ScriptedBackend(text='{"search_text": "jazz", "genres": ["ja'), IntentSource.fallback_invalid, "invalid_output"),
        (ScriptedBackend(text='{"search_text": "jazz", "energy": 9}'), IntentSource.fallback_invalid, "invalid_output"),
        (ScriptedBackend(delay_s=5), IntentSource.fallback_timeout, "timeout"),
        (ScriptedBackend(error=RuntimeError("engine died")), IntentSource.fallback_error, "engine_error"),
        (ScriptedBackend(error=IntentBackendUnavailable("loading", "unavailable")), IntentSource.fallback_error, "unavailable"),
    ],
)
def test_every_llm_failure_is_answered_by_the_parser_and_counted(backend, source, reason):
    service = _service(backend, deadline_s=0.2)
    result = asyncio.run(service.parse("rainy sunday jazz like Miles Davis"))
    assert result.intent.source is source
    assert result.fallback_reason == reason
    assert service.stats()["fallbacks"] == ({reason: 1} if reason else {})
    if reason:  # the parser's answer, not an empty intent
        # "like Miles Davis" asks for music like his (issue 14), not only his.
        assert result.intent.similar_artists == ["Miles Davis"] and "jazz" in result.intent.genres


# --- the OpenAI-compatible backend against a fake server -----------------------------

def fake_openai_server(seen: list, content: str = GOOD, status: int = 200, finish: str = "stop") -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        seen.append({"body": await request.json(), "auth": request.headers.get("authorization")})
        if status != 200:
            return JSONResponse({"error": {"message": "busy"}}, status_code=status)
        return {"id": "x", "object": "chat.completion", "model": "intent",
                "choices": [{"index": 0, "finish_reason": finish,
                             "message": {"role": "assistant", "content": content}}]}

    return app


def _openai(seen, cfg=None, **server):
    cfg = cfg or OpenAIConfig(base_url="http://llm.test/v1")
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake_openai_server(seen, **server)))
    return OpenAIBackend(cfg, client=client)


def test_openai_backend_sends_json_schema_response_format_and_no_guided_fields():
    seen = []
    result = asyncio.run(_service(_openai(seen)).parse("rainy sunday jazz"))
    assert result.intent.source is IntentSource.llm and result.intent.genres == ["jazz"]
    body = seen[0]["body"]
    assert body["response_format"]["type"] == "json_schema"
    schema = body["response_format"]["json_schema"]["schema"]
    assert "source" not in schema["properties"] and schema["properties"]["genres"]["items"]["enum"]
    assert not [k for k in body if k.startswith("guided")]
    assert body["messages"][0]["role"] == "system" and body["messages"][-1]["content"] == "rainy sunday jazz"
    assert result.versions["intent_prompt"] == "v1"


def test_openai_backend_can_use_vllms_structured_outputs_field(monkeypatch):
    seen = []
    monkeypatch.setenv("SEGUE_TEST_LLM_KEY", "s3cret")
    cfg = OpenAIConfig(base_url="http://llm.test/v1", structured_output_field="structured_outputs",
                       api_key_env="SEGUE_TEST_LLM_KEY")
    asyncio.run(_service(_openai(seen, cfg)).parse("jazz"))
    assert "json" in seen[0]["body"]["structured_outputs"] and "response_format" not in seen[0]["body"]
    assert seen[0]["auth"] == "Bearer s3cret"


@pytest.mark.parametrize(
    "server, reason",
    [({"status": 503}, "overloaded"), ({"status": 500}, "engine_error"),
     ({"content": "Sure! Here is your playlist"}, "invalid_output"),
     ({"content": GOOD[:40], "finish": "length"}, "invalid_output")],
)
def test_openai_backend_failures_fall_back(server, reason):
    seen = []
    result = asyncio.run(_service(_openai(seen, **server)).parse("jazz"))
    assert result.fallback_reason == reason and result.intent.source is not IntentSource.llm


def test_unreachable_openai_server_falls_back():
    cfg = OpenAIConfig(base_url="http://127.0.0.1:9/v1", timeout_s=2)
    result = asyncio.run(_service(OpenAIBackend(cfg)).parse("jazz"))
    assert result.fallback_reason == "unavailable"


def test_missing_api_key_env_is_a_clear_start_up_error(monkeypatch):
    monkeypatch.delenv("SEGUE_NO_SUCH_KEY", raising=False)
    with pytest.raises(ValueError, match="SEGUE_NO_SUCH_KEY.*not set"):
        OpenAIBackend(OpenAIConfig(api_key_env="SEGUE_NO_SUCH_KEY"))


def test_llm_config_is_validated_with_clear_messages():
    with pytest.raises(ConfigError, match="intent.openai.base_url"):
        AppConfig.from_dict({"intent": {"openai": {"base_url": "llm:8000"}}})
    with pytest.raises(ConfigError, match="intent.vllm.prompt_version"):
        AppConfig.from_dict({"intent": {"vllm": {"prompt_version": "latest"}}})
    cfg = AppConfig.from_dict({"intent": {"backend": "vllm", "vllm": {"model": "/models/x", "max_tokens": 128}}})
    assert cfg.intent.vllm.max_tokens == 128 and cfg.intent.vllm.dtype == "bfloat16"


# --- the vLLM backend's lifecycle, with the engine start replaced (no vLLM needed) ---

import threading  # noqa: E402

from serving.intent.llm_config import VLLMConfig  # noqa: E402
from serving.intent.vllm_backend import VLLMBackend, engine_kwargs  # noqa: E402


class StalledVLLMBackend(VLLMBackend):
    """An engine whose load hangs until released, then fails."""

    def __init__(self, *a, **kw):
        self.release = threading.Event()
        super().__init__(*a, **kw)

    def _create_engine(self):
        self.release.wait(30)
        raise RuntimeError("out of memory while loading weights")


def test_stalled_then_failed_engine_load_never_fails_a_request():
    backend = StalledVLLMBackend(VLLMConfig(model="/nowhere", restart_backoff_s=3600), "/nowhere")
    service = _service(backend, deadline_s=5)
    loading = asyncio.run(service.parse("rainy sunday jazz"))
    assert loading.intent.source is IntentSource.fallback_error and loading.fallback_reason == "unavailable"
    assert backend.ready() == (False, "vllm engine loading")
    backend.release.set()
    assert backend.wait_ready(10) is False
    failed = asyncio.run(service.parse("rainy sunday jazz"))
    assert failed.fallback_reason == "unavailable" and "jazz" in failed.intent.genres
    assert service.stats()["fallbacks"] == {"unavailable": 2}
    assert "out of memory" in backend.ready()[1]


def test_engine_arguments_follow_the_config():
    kw = engine_kwargs(VLLMConfig(model="m", dtype="float16", max_model_len=1024, tensor_parallel_size=2,
                                  gpu_memory_utilization=0.5), "/models/m")
    assert kw["model"] == "/models/m" and kw["dtype"] == "float16" and kw["max_model_len"] == 1024
    assert kw["tensor_parallel_size"] == 2 and kw["gpu_memory_utilization"] == 0.5
    assert "distributed_executor_backend" not in kw  # TP > 1 needs vLLM's multiprocess executor
    assert kw["structured_outputs_config"]["backend"] == "xgrammar"
    assert engine_kwargs(VLLMConfig(), "/m")["distributed_executor_backend"] == "uni"


def test_session_update_sends_the_conversation_and_returns_the_schema_intent():
    from serving.intent.model import Intent

    seen = []
    previous = Intent(search_text="dance party", genres=["pop"], include_artists=["Drake"])
    result, edits = asyncio.run(_service(_openai(seen)).update(previous, "no more Drake, keep the first five"))
    last = seen[0]["body"]["messages"][-1]["content"]
    assert '"include_artists":["Drake"]' in last and "no more Drake, keep the first five" in last
    assert seen[0]["body"]["response_format"]["type"] == "json_schema"  # same schema as a first turn
    assert result.intent.source is IntentSource.llm and result.intent.genres == ["jazz"]  # the LLM's answer
    assert edits.keep_first == 5  # session directives always come from the fast rules


def test_session_update_falls_back_to_the_edit_rules():
    from serving.intent.model import Intent

    previous = Intent(search_text="dance party", include_artists=["Miles Davis"])
    result, _ = asyncio.run(_service(_openai([], status=503)).update(previous, "no more Miles Davis"))
    assert result.intent.source is IntentSource.fallback_error and result.intent.exclude_artists == ["Miles Davis"]
