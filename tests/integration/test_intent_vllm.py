"""The real vLLM engine (CPU build) behind the IntentModel class, with a tiny
random-weight model made at test time. One engine start for the whole module;
the test that kills the engine runs last.

Needs the `llm` extra. scripts/test installs it and sets SEGUE_REQUIRE_LLM=1, so
there a missing vLLM fails instead of skipping.
"""

import asyncio
import importlib.util
import os
import threading
import time

import pytest

from serving.config import AppConfig
from serving.intent.deployment import IntentModelDeployment
from serving.intent.model import Intent, IntentSource
from serving.intent.prompt_template import load_template
from serving.intent.service import IntentService
from serving.intent.tiny_model import cached_tiny_model
from serving.intent.variants import IntentVariants
from serving.intent.vllm_backend import VLLMBackend
from serving.schemas import RequestContext

pytestmark = [pytest.mark.integration, pytest.mark.llm]

if importlib.util.find_spec("vllm") is None:
    if os.environ.get("SEGUE_REQUIRE_LLM"):
        raise RuntimeError("vLLM is not installed but SEGUE_REQUIRE_LLM is set: pip install -e '.[llm]'")
    pytest.skip("vLLM not installed (pip install -e '.[llm]')", allow_module_level=True)

PROMPTS = [
    "upbeat 80s synthpop for a morning run, no ballads",
    "hi, id like some heavy metal to work out to",
    "rainy sunday jazz, nothing too upbeat",
    "something like Daft Punk but more chill",
    "I want to create a slow jams playlist",
    "songs for a road trip with my kids",
    "hello how's your day",
    "20 songs of 90s hip hop please",
]


class Loop:
    """One event loop in a thread, like a Serve replica's: AsyncLLM's output
    handler lives on the loop of its first request, so every call must use it."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout=600):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def _config(model_dir) -> AppConfig:
    return AppConfig.from_dict({
        "intent": {
            "backend": "vllm",
            "deadline_ms": 300_000,  # the real deadline is tested on its own below
            "vllm": {"model": str(model_dir), "max_model_len": 4096, "max_tokens": 1024, "cpu_kv_cache_gib": 1,
                     "restart_backoff_s": 3600},
        }
    })


@pytest.fixture(scope="module")
def loop():
    lp = Loop()
    yield lp
    lp.stop()


@pytest.fixture(scope="module")
def model_dir():
    return cached_tiny_model()


@pytest.fixture(scope="module")
def deployment(loop, model_dir):
    dep = IntentModelDeployment(_config(model_dir))
    backend = dep._service.backend
    assert isinstance(backend, VLLMBackend)
    assert backend.wait_ready(600), backend.ready()
    yield dep
    dep.__del__()


def _parse(loop, dep, prompt):
    return loop.run(dep.parse(prompt, RequestContext()))


def test_intent_model_returns_schema_valid_llm_intents(loop, deployment):
    for prompt in PROMPTS[:4]:
        result = _parse(loop, deployment, prompt)
        assert result.intent.source is IntentSource.llm, result.fallback_reason
        Intent.model_validate(result.intent.model_dump())  # round-trips through the schema
        assert result.versions["intent_backend"] == "vllm" and result.versions["intent_prompt"] == "v1"
    assert deployment.stats()["fallbacks"] == {}
    assert deployment.ready()[0]


def test_prompt_version_arms_share_the_engine_and_each_render_their_own_prompt(loop, deployment, model_dir):
    """An experiment whose arms differ only in prompt_version: one engine, two templates."""
    cfg = AppConfig.from_dict({**_config(model_dir).model_dump(mode="json"), "experiment": {
        "id": "prompts", "salt": "s", "arms": [
            {"name": "v1", "weight": 0.5}, {"name": "v2", "weight": 0.5, "components": {"prompt_version": "v2"}}]}})

    def no_second_engine(_cfg):
        raise AssertionError("arms that differ only in prompt must share the running engine")

    variants = IntentVariants(cfg, deployment._service, no_second_engine)
    engine = deployment._service.backend
    v2 = variants.plan.for_arm("prompt_version=v2")
    assert v2.backend.engine is engine
    prompt = PROMPTS[0]
    assert engine.render(prompt, load_template("v2")) != engine.render(prompt)
    assert load_template("v2").system in engine.render(prompt, load_template("v2"))
    for key, version in (("", "v1"), ("prompt_version=v2", "v2")):
        result = loop.run(variants.plan.for_arm(key).parse(prompt))
        assert result.intent.source is IntentSource.llm, result.fallback_reason
        assert result.versions["intent_prompt"] == version and result.versions["intent_backend"] == "vllm"


class TimedVLLMBackend(VLLMBackend):
    """Records when each request's first and last output arrive from the real engine."""

    def __init__(self, *a, **kw):
        self.spans = []
        super().__init__(*a, **kw)

    async def generate_text(self, prompt, *, structured=None, template=None, schema=None, max_tokens=None):
        engine = self._engine
        real_generate = engine.generate
        marks = []

        async def timed(*args, **kwargs):
            async for out in real_generate(*args, **kwargs):
                marks.append(time.monotonic())
                yield out

        engine.generate = timed
        try:
            return await super().generate_text(prompt, structured=structured, template=template, schema=schema,
                                               max_tokens=max_tokens)
        finally:
            engine.generate = real_generate
            if marks:
                self.spans.append((marks[0], marks[-1]))


def test_concurrent_requests_are_batched_by_the_engine(loop, deployment):
    backend = deployment._service.backend
    timed = TimedVLLMBackend(backend.cfg, backend.model_dir, start=False)
    # Share the running engine rather than starting a second one.
    timed._engine, timed._tokenizer, timed._chat, timed._params = (
        backend._engine, backend._tokenizer, backend._chat, backend._params)
    timed._state = "ready"
    service = IntentService(timed, deployment._service.parser, deadline_s=300)

    async def burst():
        return await asyncio.gather(*(service.parse(p) for p in PROMPTS * 2))

    results = loop.run(burst())
    assert all(r.intent.source is IntentSource.llm for r in results), [r.fallback_reason for r in results]
    assert len(timed.spans) == 16
    # Continuous batching: every request was still being decoded when the first one
    # finished. Served one after another, the spans would not overlap at all.
    first_done = min(end for _, end in timed.spans)
    assert sum(start < first_done for start, _ in timed.spans) >= 12


def test_deadline_falls_back_and_the_engine_keeps_serving(loop, deployment):
    backend = deployment._service.backend
    hurried = IntentService(backend, deployment._service.parser, deadline_s=0.001)
    result = loop.run(hurried.parse("heavy metal to work out to"))
    assert result.intent.source is IntentSource.fallback_timeout and result.fallback_reason == "timeout"
    assert result.intent.genres  # the parser's answer
    assert hurried.stats()["fallbacks"] == {"timeout": 1}
    assert _parse(loop, deployment, "heavy metal to work out to").intent.source is IntentSource.llm


class TruncatingVLLMBackend(VLLMBackend):
    """The real engine's output with its end cut off: what a server without
    structured outputs, or a broken one, may send."""

    async def generate_text(self, prompt, *, structured=None, template=None, params=None):
        text, finish = await super().generate_text(prompt, structured=structured, template=template)
        return text[: len(text) // 2], finish


def test_invalid_output_falls_back(loop, deployment):
    backend = deployment._service.backend
    bad = TruncatingVLLMBackend(backend.cfg, backend.model_dir, start=False)
    bad._engine, bad._tokenizer, bad._chat, bad._params = (
        backend._engine, backend._tokenizer, backend._chat, backend._params)
    bad._state = "ready"
    service = IntentService(bad, deployment._service.parser, deadline_s=300)
    result = loop.run(service.parse("rainy sunday jazz"))
    assert result.intent.source is IntentSource.fallback_invalid and result.fallback_reason == "invalid_output"
    assert "jazz" in result.intent.genres


def test_unconstrained_random_model_output_does_not_parse(loop, deployment):
    """Why structured outputs are on: without them the tiny model emits no JSON."""
    backend = deployment._service.backend
    text, _ = loop.run(backend.generate_text("rainy sunday jazz", structured=False))
    with pytest.raises(ValueError):
        from serving.intent.llm_schema import parse_intent
        parse_intent(text)


def test_the_engine_labels_artists_under_the_label_schema(loop, deployment):
    """Catalog enrichment's LLM source runs on the same engine: another template, another schema.
    With random weights only the grammar makes the answers valid, so every artist gets a label
    in the taxonomy's names (and the intent schema's parameters are left as they were)."""
    from serving.catalog.enrichment.llm_labels import GENRES, ArtistCard, label_artists

    backend = deployment._service.backend
    cards = [ArtistCard("Metallica", ("Master of Puppets", "One"), ()),
             ArtistCard("Whitney Houston", ("I Will Always Love You",), ("The Bodyguard",)),
             ArtistCard("Daft Punk", ("Around the World",), ("Homework",))]
    # A random model's byte-level vocabulary spends a token per character or so.
    run = loop.run(label_artists(backend, cards, concurrency=3, max_tokens=512))
    assert run.errors == {} and [lab.artist for lab in run.labels] == [c.name for c in cards]
    assert all(1 <= len(lab.genres) <= 3 and set(lab.genres) <= set(GENRES) for lab in run.labels)
    assert _parse(loop, deployment, PROMPTS[0]).intent.source is IntentSource.llm


def test_killed_engine_degrades_to_fallback_for_every_request(loop, deployment):
    """Last in the module: kills the engine core process mid-service."""
    backend = deployment._service.backend
    proc = backend._engine.engine_core.resources.engine_manager.processes[0]
    os.kill(proc.pid, 9)
    proc.join(30)
    results = [_parse(loop, deployment, p) for p in PROMPTS]
    assert all(r.intent.source is not IntentSource.llm for r in results)
    assert all(r.intent.search_text for r in results)
    fallbacks = deployment.stats()["fallbacks"]
    assert sum(fallbacks.values()) >= len(PROMPTS)
    assert set(fallbacks) <= {"engine_error", "unavailable"}
    ok, detail = deployment.ready()
    assert not ok and "died" in detail
