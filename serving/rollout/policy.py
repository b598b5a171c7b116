"""The rollout decision as a pure function: (state, per-arm evidence, policy) -> decision.

The canary's weight walks a schedule (5 -> 10 -> 25 -> 50 -> 100 %). Each look
either rolls back (a guardrail is breached), holds (evidence since the last step
is still thin), or advances; reaching 100 % promotes. Guardrails are checked at
every look, so a bad canary is stopped at the step where it shows.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

RUNNING, PROMOTED, ROLLED_BACK = "running", "promoted", "rolled_back"


class RolloutPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schedule: tuple[float, ...] = Field(default=(0.05, 0.10, 0.25, 0.50, 1.0), description="Canary weights in order.")
    min_served_per_step: int = Field(default=300, ge=1, description="Canary playlists served at a step before advancing.")
    min_guardrail_n: int = Field(default=50, ge=1, description="Canary requests before rate guardrails are judged.")
    max_error_rate: float = Field(default=0.02, ge=0, le=1, description="Canary error rate allowed (absolute) ...")
    max_error_rate_delta: float = Field(default=0.01, ge=0, le=1, description="... or this much above the control.")
    min_latency_n: int = Field(default=200, ge=1, description="Canary requests before p99 is judged (fewer: p99 ~ max).")
    max_p99_ratio: float = Field(default=1.5, ge=1, description="Canary p99 may be this times the control's ...")
    p99_slack_ms: float = Field(default=50.0, ge=0, description="... plus this slack.")
    max_fallback_delta: float = Field(default=0.05, ge=0, le=1, description="Intent fallback rate above the control.")
    metric: str = Field(default="like_rate", description="Outcome compared with the always-valid test.")
    alpha: float = Field(default=0.05, gt=0, lt=1, description="Sequential test level for 'significantly worse'.")

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, s: tuple[float, ...]) -> tuple[float, ...]:
        if not s or any(not 0 < w <= 1 for w in s) or list(s) != sorted(set(s)) or s[-1] != 1.0:
            raise ValueError(f"schedule must rise strictly within (0, 1] and end at 1.0, e.g. 0.05,0.1,0.25,0.5,1; got {s}")
        return s


@dataclass(frozen=True)
class ArmEvidence:
    served: int = 0
    errors: int = 0
    p99_ms: float | None = None
    fallback_rate: float | None = None

    @property
    def attempts(self) -> int:
        return self.served + self.errors

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.attempts if self.attempts else None


@dataclass(frozen=True)
class Evidence:
    control: ArmEvidence
    canary: ArmEvidence
    srm_p: float = 1.0
    srm_mismatch: bool = False
    diff: float | None = None  # canary - control on the policy metric
    diff_ci: tuple[float | None, float | None] = (None, None)  # always-valid confidence sequence
    p_value: float = 1.0  # always-valid p-value
    control_rate: float | None = None
    canary_rate: float | None = None

    @classmethod
    def from_summary(cls, summary: dict, control: str, canary: str, metric: str = "like_rate") -> "Evidence":
        """From the service's GET /v1/experiments/{id} summary."""
        arms = summary.get("arms", {})

        def arm(name: str) -> ArmEvidence:
            a = arms.get(name) or {}
            return ArmEvidence(a.get("served", 0), a.get("errors", 0), a.get("latency_p99_ms"), a.get("intent_fallback_rate"))

        cmp = (summary.get("comparisons", {}).get(canary) or {}).get(metric) or {}
        srm = summary.get("srm") or {}
        rate = lambda n: ((arms.get(n) or {}).get(metric) or {}).get("rate")  # noqa: E731
        return cls(
            control=arm(control), canary=arm(canary), srm_p=srm.get("p_value", 1.0), srm_mismatch=bool(srm.get("mismatch")),
            diff=cmp.get("diff"), diff_ci=tuple(cmp.get("ci") or (None, None)), p_value=cmp.get("p_value", 1.0),
            control_rate=rate(control), canary_rate=rate(canary),
        )


@dataclass
class RolloutState:
    experiment_id: str
    control: str
    canary: str
    step: int = -1  # index into the schedule; -1 = not started
    status: str = RUNNING
    step_started_served: int = 0  # canary playlists served when the current step began
    weight: float = 0.0  # the canary weight this controller wants in force
    decisions: list[dict] = field(default_factory=list)
    updated_at: float = 0.0

    MAX_DECISIONS = 100

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RolloutState":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass(frozen=True)
class Decision:
    action: str  # start | advance | hold | rollback | promote | done
    weight: float  # canary weight after this decision
    reason: str
    evidence: dict = field(default_factory=dict)


def _fmt(x: float | None, pct: bool = False) -> str:
    if x is None:
        return "n/a"
    return f"{100 * x:.2f}%" if pct else f"{x:.4g}"


def guardrail_breach(ev: Evidence, p: RolloutPolicy) -> str | None:
    c, k = ev.control, ev.canary
    if ev.srm_mismatch:
        return f"sample ratio mismatch (chi-square p={ev.srm_p:.2g} < 0.001): assignment is broken"
    if k.attempts >= p.min_guardrail_n and k.error_rate is not None:
        allowed = max(p.max_error_rate, (c.error_rate or 0.0) + p.max_error_rate_delta)
        if k.error_rate > allowed:
            return f"canary error rate {_fmt(k.error_rate, True)} > allowed {_fmt(allowed, True)}"
    if k.served >= p.min_latency_n and k.p99_ms is not None and c.p99_ms is not None:
        allowed = c.p99_ms * p.max_p99_ratio + p.p99_slack_ms
        if k.p99_ms > allowed:
            return f"canary p99 latency {k.p99_ms:.0f} ms > allowed {allowed:.0f} ms (control {c.p99_ms:.0f} ms)"
    if k.served >= p.min_guardrail_n and k.fallback_rate is not None:
        allowed = (c.fallback_rate or 0.0) + p.max_fallback_delta
        if k.fallback_rate > allowed:
            return f"canary intent fallback rate {_fmt(k.fallback_rate, True)} > allowed {_fmt(allowed, True)}"
    hi = ev.diff_ci[1] if ev.diff_ci else None
    if k.served >= p.min_guardrail_n and hi is not None and hi < 0 and ev.p_value < p.alpha:
        return (f"canary {p.metric} significantly worse: {_fmt(ev.canary_rate)} vs {_fmt(ev.control_rate)}, "
                f"diff {_fmt(ev.diff)} (always-valid CI upper {_fmt(hi)} < 0, p={ev.p_value:.2g})")
    return None


def decide(state: RolloutState, ev: Evidence, p: RolloutPolicy) -> Decision:
    summary = {
        "canary_served": ev.canary.served, "control_served": ev.control.served,
        "canary_rate": ev.canary_rate, "control_rate": ev.control_rate, "diff": ev.diff,
        "diff_ci": list(ev.diff_ci), "p_value": ev.p_value, "srm_p": ev.srm_p,
        "canary_error_rate": ev.canary.error_rate, "canary_p99_ms": ev.canary.p99_ms, "control_p99_ms": ev.control.p99_ms,
    }
    if state.status != RUNNING:
        return Decision("done", state.weight, f"rollout already {state.status}", summary)
    if state.step < 0:
        return Decision("start", p.schedule[0], f"start canary at {_fmt(p.schedule[0], True)}", summary)
    breach = guardrail_breach(ev, p)
    if breach:
        return Decision("rollback", 0.0, breach, summary)
    new = ev.canary.served - state.step_started_served
    if new < p.min_served_per_step:
        return Decision("hold", state.weight, f"evidence thin: {new}/{p.min_served_per_step} canary playlists at "
                        f"{_fmt(state.weight, True)}", summary)
    nxt = p.schedule[min(state.step + 1, len(p.schedule) - 1)]
    if nxt >= 1.0:
        return Decision("promote", 1.0, f"guardrails held through {_fmt(state.weight, True)}: promote canary to 100%", summary)
    return Decision("advance", nxt, f"guardrails held with {new} canary playlists: {_fmt(state.weight, True)} -> "
                    f"{_fmt(nxt, True)}", summary)


def apply(state: RolloutState, d: Decision, ev: Evidence, now: float | None = None) -> RolloutState:
    """The state after a decision (a new object; the input is not changed)."""
    s = RolloutState.from_dict(state.to_dict())
    s.weight = d.weight
    if d.action in ("start", "advance"):
        s.step += 1
        s.step_started_served = ev.canary.served
    elif d.action == "promote":
        s.step, s.status = s.step + 1, PROMOTED
    elif d.action == "rollback":
        s.status = ROLLED_BACK
    s.updated_at = time.time() if now is None else now
    if d.action != "done":
        s.decisions = (s.decisions + [{"at": s.updated_at, "action": d.action, "weight": d.weight,
                                        "reason": d.reason, "evidence": d.evidence}])[-RolloutState.MAX_DECISIONS:]
    return s
