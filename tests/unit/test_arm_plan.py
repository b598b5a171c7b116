"""The arm plan: every configured arm resolved once at start-up, a request looks its arm key up,
live-added arms resolve once, unloaded components are refused; prompt-version arms share one
engine and render their own template (against the real OpenAI-compatible backend's wire format)."""

import asyncio

import pytest

from serving.arm_plan import ArmPlan
from serving.config import AppConfig
from serving.errors import NotReady
from serving.experiments.config import ArmComponents
from serving.intent.faults import FaultConfig, FaultInjectingBackend
from serving.intent.prompted import PromptedBackend
from serving.intent.prompt_template import load_template
from serving.intent.variants import IntentVariants
from serving.ranking.deployment import RankerDeployment
from tests.unit.test_intent_backends import _openai, _service

pytestmark = pytest.mark.unit


def test_each_key_is_resolved_once_and_live_keys_once_more():
    calls = []

    def resolve(c):
        calls.append(c.key if c else "")
        if c is not None and c.index_kind == "hnsw":
            raise NotReady("not loaded")
        return f"obj:{c.key if c else ''}"

    plan = ArmPlan(resolve, [None, ArmComponents(ranker="a"), ArmComponents(ranker="a"), ArmComponents()])
    assert plan.keys == ("", "ranker=a") and calls == ["", "ranker=a"]
    for _ in range(3):
        assert plan.for_arm("ranker=a") == "obj:ranker=a"
        assert plan.for_arm("") == "obj:"
    assert calls == ["", "ranker=a"]  # nothing resolved per request
    assert plan.for_arm("ranker=b") == "obj:ranker=b" and plan.for_arm("ranker=b") == "obj:ranker=b"
    assert calls == ["", "ranker=a", "ranker=b"]
    with pytest.raises(NotReady):
        plan.for_arm("index_kind=hnsw")
    assert "index_kind=hnsw" not in plan.keys  # a refusal is never kept


def test_group_keeps_first_seen_order_of_arms():
    assert ArmPlan.group(["b", "", "b", "a", ""]) == {"b": [0, 2], "": [1, 4], "a": [3]}


def _prompt_experiment_config():
    return AppConfig.from_dict({
        "intent": {"backend": "openai", "openai": {"base_url": "http://llm.test/v1"}},
        "experiment": {"id": "prompts", "salt": "s", "arms": [
            {"name": "v1", "weight": 0.5}, {"name": "v2", "weight": 0.5, "components": {"prompt_version": "v2"}}]}})


def _never(cfg):
    raise AssertionError("no second engine: arms that differ only in prompt share the default one")


def test_prompt_version_arms_share_the_engine_and_render_their_own_prompt():
    seen = []
    default = _service(_openai(seen))
    variants = IntentVariants(_prompt_experiment_config(), default, _never)
    v1, v2 = variants.plan.for_arm(""), variants.plan.for_arm("prompt_version=v2")
    assert v1 is default
    assert isinstance(v2.backend, PromptedBackend) and v2.backend.engine is default.backend
    assert v2.parser is default.parser

    r1 = asyncio.run(v1.parse("rainy sunday jazz"))
    r2 = asyncio.run(v2.parse("rainy sunday jazz"))
    assert r1.versions["intent_prompt"] == "v1" and r2.versions["intent_prompt"] == "v2"
    sys1, sys2 = (s["body"]["messages"][0]["content"] for s in seen)
    assert sys1 == load_template("v1").system and sys2 == load_template("v2").system and sys1 != sys2
    shots2 = [m["content"] for m in seen[1]["body"]["messages"][1:-1:2]]
    assert shots2 == [p for p, _ in load_template("v2").examples]


def test_faults_reach_every_llm_variant_and_clear():
    default = _service(_openai([]))
    variants = IntentVariants(_prompt_experiment_config(), default, _never)
    variants.inject(FaultConfig(error_rate=1.0))
    assert all(isinstance(variants.plan.for_arm(k).backend, FaultInjectingBackend) for k in variants.plan.keys)
    variants.inject(FaultConfig())
    assert not any(isinstance(variants.plan.for_arm(k).backend, FaultInjectingBackend) for k in variants.plan.keys)


def test_an_unloaded_backend_or_prompt_is_refused_not_built():
    default = _service(_openai([]))
    variants = IntentVariants(_prompt_experiment_config(), default, _never)
    with pytest.raises(NotReady, match="did not load"):
        variants.plan.for_arm("intent_backend=vllm")


def test_the_ranker_plan_resolves_arms_to_shared_ranker_objects():
    cfg = AppConfig.from_dict({"ranking": {"version": "baseline-v1"}, "experiment": {"id": "r", "salt": "s", "arms": [
        {"name": "a", "weight": 0.5}, {"name": "b", "weight": 0.5, "components": {"ranker": "random-v1"}}]}})
    dep = RankerDeployment(cfg)
    assert dep.plan.for_arm("").version == "baseline-v1"
    assert dep.plan.for_arm("ranker=random-v1").version == "random-v1"
    assert dep.plan.for_arm("ranker=baseline-v1") is dep.plan.for_arm("")  # same version, same object
    assert dep.plan.for_arm("ranker=baseline-v2").version == "baseline-v2"  # live-added arm: built once
