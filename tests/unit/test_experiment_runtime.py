import asyncio

import pytest

from serving.config import AppConfig
from serving.errors import InvalidRequest, NotFound, Unauthorized, UnprocessableFeedback
from serving.experiments.config import ExperimentConfigError
from serving.experiments.runtime import ExperimentRuntime
from serving.experiments.sinks import LocalOutcomeSink
from serving.metrics import SegueMetrics
from serving.security.auth import AdminAuth
from tests.unit.test_metrics import Recorder

EXP = {"id": "rk", "salt": "s", "arms": [
    {"name": "control", "weight": 0.5}, {"name": "canary", "weight": 0.5, "components": {"ranker": "baseline-v2"}}],
    "shadow": {"name": "shadow", "sample_rate": 1.0, "components": {"ranker": "random-v1"}}}


def runtime(token="secret", experiment=EXP, metrics=None):
    sink = LocalOutcomeSink()
    metrics = metrics or SegueMetrics(Recorder())
    rt = ExperimentRuntime(AppConfig.from_dict({"experiment": experiment}), sink, metrics, AdminAuth(token))
    return rt, sink


def test_assignment_is_sticky_and_carries_the_arm_components():
    rt, _ = runtime()
    a = rt.assign("r1", "user-1", {})
    assert a.ctx.arm in ("control", "canary") and a.ctx.experiment_id == "rk"
    assert rt.assign("r2", "user-1", {}).ctx.arm == a.ctx.arm
    canary = next(rt.assign(f"r{i}", f"u{i}", {}) for i in range(100) if rt.assign("x", f"u{i}", {}).ctx.arm == "canary")
    assert canary.ctx.arm_key == "ranker=baseline-v2"
    assert rt.assign("anon-req", None, {}).ctx.user_key == "anon-req"  # anonymous: the request id


def test_override_needs_the_admin_token():
    rt, _ = runtime()
    with pytest.raises(Unauthorized):
        rt.assign("r", "u", {"x-segue-arm": "canary"})
    with pytest.raises(Unauthorized):
        rt.assign("r", "u", {"x-segue-arm": "canary", "authorization": "Bearer wrong"})
    a = rt.assign("r", "u", {"x-segue-arm": "shadow", "authorization": "Bearer secret"})
    assert a.ctx.arm == "shadow" and a.weights is None  # QA may preview the shadow arm; not counted
    with pytest.raises(InvalidRequest, match="arms: control, canary, shadow"):
        rt.assign("r", "u", {"x-segue-arm": "nope", "authorization": "Bearer secret"})
    rt_off, _ = runtime(token=None)
    with pytest.raises(Unauthorized, match="disabled"):
        rt_off.assign("r", "u", {"x-segue-arm": "canary", "authorization": "Bearer secret"})


def test_reconfigure_moves_weights_and_rejects_bad_configs_keeping_the_old():
    rt, _ = runtime()
    new = {**EXP, "arms": [{"name": "control", "weight": 1.0}, {"name": "canary", "weight": 0.0}]}
    rt.reconfigure({"experiment": new})
    assert all(rt.assign("r", f"u{i}", {}).ctx.arm == "control" for i in range(50))
    with pytest.raises(ExperimentConfigError, match="sum to 1"):
        rt.reconfigure({"experiment": {**EXP, "arms": [{"name": "control", "weight": 0.3}]}})
    assert rt.experiment.weights == {"control": 1.0, "canary": 0.0}
    with pytest.raises(ExperimentConfigError, match="did not load at start-up"):
        rt.reconfigure({"experiment": {**EXP, "arms": [{"name": "control", "weight": 1.0, "components": {"index_kind": "hnsw"}}]}})
    with pytest.raises(ExperimentConfigError, match="ranker 'nope' is not registered"):
        rt.reconfigure({"experiment": {**EXP, "arms": [{"name": "control", "weight": 1.0, "components": {"ranker": "nope"}}]}})
    with pytest.raises(ExperimentConfigError, match="intent backend/prompt that the graph did not load"):
        rt.reconfigure({"experiment": {**EXP, "arms": [{"name": "control", "weight": 1.0,
                                                         "components": {"intent_backend": "vllm", "prompt_version": "v2"}}]}})
    assert rt.experiment.weights == {"control": 1.0, "canary": 0.0}
    rt.reconfigure({"experiment": None})
    assert rt.assign("r", "u", {}).ctx.experiment_id is None


def test_served_feedback_summary_and_shadow():
    rec = Recorder()

    async def go():
        rt, sink = runtime(metrics=SegueMetrics(rec))
        a = rt.assign("r1", "u1", {})
        rt.served(a, "p1", ["t1", "t2"], 12.0, intent_fallback=False)

        async def shadow_run(ctx):
            assert ctx.arm == "shadow" and ctx.arm_key == "ranker=random-v1"
            return ["t2", "t3"]

        assert rt.maybe_shadow(a, ["t1", "t2"], shadow_run)
        await asyncio.sleep(0.05)
        assert (await rt.feedback("p1", "t1", "like")).counted
        with pytest.raises(NotFound):
            await rt.feedback("p404", "t1", "like")
        with pytest.raises(UnprocessableFeedback):
            await rt.feedback("p1", "t9", "like")
        s = await rt.summary("rk")
        assert s["arms"][a.ctx.arm]["events"]["like"] == 1
        assert s["shadow"]["runs"] == 1 and s["shadow"]["mean_overlap_with_live"] == 0.5
        with pytest.raises(NotFound):
            await rt.summary("other")
        return a

    a = asyncio.run(go())
    events = [(name, tags["event"]) for name, tags, _ in rec.calls]
    # Feedback is counted once, in its own series; assignment events in the experiment series.
    assert events.count(("segue_feedback_events", "like")) == 1
    assert ("segue_experiment_events", "like") not in events
    assert ("segue_experiment_events", "exposure") in events and ("segue_experiment_events", "shadow") in events
    assert rec.calls[0][1] == {"experiment": "rk", "arm": a.ctx.arm, "event": "exposure"}
