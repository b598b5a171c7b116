"""Deadline and fallback around an intent backend, and the live fault switch."""

import asyncio

from serving.intent.backend import IntentBackend, IntentOutputError
from serving.intent.fallback import FastParser
from serving.intent.faults import FaultConfig, FaultInjectingBackend
from serving.intent.model import Intent, IntentSource
from serving.intent.service import IntentService


class EchoBackend(IntentBackend):
    """A well-behaved backend: a real subclass of the interface."""

    name = "echo"

    def __init__(self, delay_s: float = 0.0, bad: bool = False, broken: bool = False):
        self.delay_s, self.bad, self.broken = delay_s, bad, broken

    async def generate(self, prompt: str) -> Intent:
        await asyncio.sleep(self.delay_s)
        if self.broken:
            raise ConnectionError("engine is gone")
        if self.bad:
            raise IntentOutputError("not JSON")
        return Intent(search_text=prompt.upper(), genres=["echo"])


def service(backend, deadline_s=0.2):
    return IntentService(backend, FastParser(None, []), deadline_s=deadline_s)


def run(svc, prompt="heavy metal"):
    return asyncio.run(svc.parse(prompt))


def test_llm_answer_is_marked_llm():
    r = run(service(EchoBackend()))
    assert r.intent.source == IntentSource.llm and r.intent.genres == ["echo"] and r.fallback_reason is None
    assert r.versions["intent_backend"] == "echo"


def test_timeout_invalid_and_error_fall_back_and_are_counted():
    svc = service(EchoBackend(delay_s=5), deadline_s=0.05)
    r = run(svc)
    assert r.intent.source == IntentSource.fallback_timeout and r.intent.genres == ["metal"]
    svc.backend = EchoBackend(bad=True)
    assert run(svc).intent.source == IntentSource.fallback_invalid
    svc.backend = EchoBackend(broken=True)
    assert run(svc).intent.source == IntentSource.fallback_error
    assert dict(svc.fallbacks) == {"timeout": 1, "invalid_output": 1, "engine_error": 1}


def test_fault_switch_stalls_and_fails_the_engine():
    stalled = FaultInjectingBackend(EchoBackend(), FaultConfig(stall_s=10))
    assert run(service(stalled, deadline_s=0.05)).intent.source == IntentSource.fallback_timeout
    failing = FaultInjectingBackend(EchoBackend(), FaultConfig(error_rate=1.0))
    assert run(service(failing)).intent.source == IntentSource.fallback_error
    assert not FaultConfig().active and FaultConfig(stall_s=1).active


def test_parser_only_service_answers_directly():
    r = run(service(None))
    assert r.intent.source == IntentSource.fallback and r.versions["intent_backend"] == "fallback"
