import pytest

from serving.rollout.controller import (
    InMemoryStateStore, LogEventSink, MetricsSource, RolloutController, WeightActuator,
)
from serving.rollout.policy import ArmEvidence, Evidence, RolloutPolicy, RolloutState, decide

P = RolloutPolicy(min_served_per_step=100, min_guardrail_n=50, min_latency_n=60)


def ev(canary_served=0, **kw):
    base = dict(control=ArmEvidence(served=2000, errors=2, p99_ms=200, fallback_rate=0.01),
                canary=ArmEvidence(served=canary_served, errors=0, p99_ms=210, fallback_rate=0.01))
    base.update(kw)
    return Evidence(**base)


def running(step=0, weight=0.05, started=0):
    return RolloutState("e", "control", "canary", step=step, weight=weight, step_started_served=started)


def test_start_hold_advance_promote():
    assert decide(RolloutState("e", "control", "canary"), ev(), P).action == "start"
    assert decide(running(started=0), ev(canary_served=99), P).action == "hold"
    d = decide(running(started=0), ev(canary_served=100), P)
    assert d.action == "advance" and d.weight == 0.10
    assert decide(running(step=3, weight=0.5, started=100), ev(canary_served=250), P).action == "promote"


@pytest.mark.parametrize("canary, extra, words", [
    (ArmEvidence(served=60, errors=10), {}, "error rate"),
    (ArmEvidence(served=60, p99_ms=900), {}, "p99 latency"),
    (ArmEvidence(served=60, fallback_rate=0.3), {}, "fallback rate"),
    (ArmEvidence(served=60), {"srm_mismatch": True, "srm_p": 1e-6}, "sample ratio mismatch"),
    (ArmEvidence(served=60), {"diff": -0.02, "diff_ci": (-0.03, -0.005), "p_value": 0.001}, "significantly worse"),
])
def test_guardrails_roll_back_even_while_evidence_is_thin(canary, extra, words):
    d = decide(running(), ev(canary=canary, **extra), P)
    assert d.action == "rollback" and d.weight == 0.0 and words in d.reason


def test_small_samples_do_not_trip_rate_or_latency_guardrails():
    assert decide(running(), ev(canary=ArmEvidence(served=5, errors=3)), P).action == "hold"
    worse = {"diff": -0.02, "diff_ci": (-0.03, -0.005), "p_value": 0.001}
    assert decide(running(), ev(canary=ArmEvidence(served=10), **worse), P).action == "hold"
    assert decide(running(), ev(canary=ArmEvidence(served=55, p99_ms=5000)), P).action == "hold"


def test_worse_but_not_significant_holds_or_advances():
    d = decide(running(), ev(canary_served=100, diff=-0.01, diff_ci=(-0.03, 0.01), p_value=0.4), P)
    assert d.action == "advance"


def test_policy_validation():
    with pytest.raises(ValueError, match="end at 1.0"):
        RolloutPolicy(schedule=(0.1, 0.5))


class DictActuator(WeightActuator):
    def __init__(self):
        self.w = {"control": 0.9, "other": 0.1, "canary": 0.0}
        self.calls = 0

    def weights(self):
        return dict(self.w)

    def set_weights(self, weights, reason=None):
        self.calls += 1
        self.w = dict(weights)
        self.reason = reason


class Scripted(MetricsSource):
    def __init__(self, evidences):
        self.evidences = list(evidences)

    def evidence(self, *a):
        return self.evidences.pop(0)


def test_controller_keeps_other_arms_and_resumes_from_its_store():
    act, store = DictActuator(), InMemoryStateStore()
    metrics = Scripted([ev(0), ev(150), ev(150)])
    c = RolloutController("e", "control", "canary", act, metrics, store, LogEventSink(), P)
    assert c.reconcile().action == "start"
    assert act.w == {"other": 0.1, "control": 0.855, "canary": 0.045}
    assert act.reason.startswith("start: start canary at 5.00%")  # the decision travels with the weights
    assert c.reconcile().action == "advance"
    # a new controller (restart) continues from the stored state, and re-applies idempotently
    c2 = RolloutController("e", "control", "canary", act, metrics, store, LogEventSink(), P)
    assert c2.state().weight == 0.10 and c2.reconcile().action == "hold" and act.calls == 2
    with pytest.raises(ValueError, match="state store holds rollout"):
        RolloutController("e", "control", "other", act, metrics, store, LogEventSink(), P).state()
