"""The rollout controller: one reconcile loop over small, injected interfaces.

Order within a look: decide -> persist the new desired state -> apply the weights
-> record an event. Applying is idempotent and re-done at every look, so a
controller restarted between any two of these resumes where it was.
"""

from __future__ import annotations

import abc
import logging
import threading

from serving.client import SegueAPIError, SegueClient
from serving.rollout.policy import (
    RUNNING, Decision, Evidence, RolloutPolicy, RolloutState, apply, decide,
)

log = logging.getLogger(__name__)


class MetricsSource(abc.ABC):
    @abc.abstractmethod
    def evidence(self, experiment_id: str, control: str, canary: str, metric: str) -> Evidence: ...


class WeightActuator(abc.ABC):
    """Where the experiment's weights are changed (the RayService, or a local Serve app)."""

    @abc.abstractmethod
    def weights(self) -> dict[str, float]: ...

    @abc.abstractmethod
    def set_weights(self, weights: dict[str, float], reason: str | None = None) -> None:
        """Put `weights` in force; `reason` travels with them (ExperimentConfig.change_reason)."""


class StateStore(abc.ABC):
    @abc.abstractmethod
    def load(self) -> dict | None: ...

    @abc.abstractmethod
    def save(self, state: dict) -> None: ...


class EventSink(abc.ABC):
    @abc.abstractmethod
    def record(self, reason: str, message: str, warning: bool = False) -> None: ...


class ServiceMetricsSource(MetricsSource):
    """Reads the service's own GET /v1/experiments/{id} summary (typed client: 503s retried)."""

    def __init__(self, base_url: str, timeout_s: float = 10.0, client: SegueClient | None = None):
        self._client = client or SegueClient(base_url, timeout_s=timeout_s)

    def evidence(self, experiment_id: str, control: str, canary: str, metric: str) -> Evidence:
        try:
            summary = self._client.experiment(experiment_id)
        except SegueAPIError as e:
            if e.status == 404:
                return Evidence.from_summary({}, control, canary, metric)  # no traffic yet: thin evidence
            raise
        return Evidence.from_summary(summary.model_dump(mode="json"), control, canary, metric)


class InMemoryStateStore(StateStore):
    """For one-process runs (the simulation); Kubernetes uses the ConfigMap store."""

    def __init__(self):
        self._state: dict | None = None

    def load(self) -> dict | None:
        return None if self._state is None else dict(self._state)

    def save(self, state: dict) -> None:
        self._state = dict(state)


class LogEventSink(EventSink):
    def record(self, reason: str, message: str, warning: bool = False) -> None:
        (log.warning if warning else log.info)("%s: %s", reason, message)


REASONS = {"start": "CanaryStarted", "advance": "CanaryAdvanced", "hold": "CanaryHeld",
           "rollback": "CanaryRolledBack", "promote": "CanaryPromoted"}


class RolloutController:
    def __init__(
        self, experiment_id: str, control: str, canary: str, actuator: WeightActuator, metrics: MetricsSource,
        store: StateStore, events: EventSink, policy: RolloutPolicy | None = None,
    ):
        if control == canary:
            raise ValueError("control and canary must be different arms")
        self.experiment_id, self.control, self.canary = experiment_id, control, canary
        self.actuator, self.metrics, self.store, self.events = actuator, metrics, store, events
        self.policy = policy or RolloutPolicy()

    def state(self) -> RolloutState:
        raw = self.store.load()
        if raw is None:
            return RolloutState(self.experiment_id, self.control, self.canary)
        st = RolloutState.from_dict(raw)
        if (st.experiment_id, st.control, st.canary) != (self.experiment_id, self.control, self.canary):
            raise ValueError(
                f"the state store holds rollout {st.experiment_id}:{st.control}->{st.canary}, not "
                f"{self.experiment_id}:{self.control}->{self.canary}; use another state ConfigMap or delete it"
            )
        return st

    def _weights_for(self, canary_weight: float) -> dict[str, float]:
        current = self.actuator.weights()
        others = {a: w for a, w in current.items() if a not in (self.control, self.canary)}
        budget = 1.0 - sum(others.values())  # other arms keep theirs; control and canary share the rest
        if budget <= 0:
            raise ValueError(f"arms other than {self.control}/{self.canary} hold all the weight: {current}")
        w = round(canary_weight * budget, 6)
        return {**others, self.control: round(budget - w, 6), self.canary: w}

    def reconcile(self) -> Decision:
        """One look: returns the decision taken (and persisted, applied, recorded)."""
        state = self.state()
        ev = self.metrics.evidence(self.experiment_id, self.control, self.canary, self.policy.metric)
        decision = decide(state, ev, self.policy)
        new = apply(state, decision, ev)
        self.store.save(new.to_dict())
        if new.step >= 0:  # before the start, the config's own weights are left alone
            want = self._weights_for(new.weight)
            have = self.actuator.weights()
            if any(abs(have.get(a, 0.0) - w) > 1e-9 for a, w in want.items()):
                self.actuator.set_weights(want, reason=f"{decision.action}: {decision.reason}")
        if decision.action != "done":
            self.events.record(REASONS[decision.action], f"{self.experiment_id}: {decision.reason}",
                               warning=decision.action == "rollback")
        log.info("rollout %s: %s (canary weight %.3f) %s", self.experiment_id, decision.action, decision.weight,
                 decision.reason)
        return decision

    def run(self, interval_s: float, max_looks: int | None = None, stop: threading.Event | None = None) -> RolloutState:
        stop = stop or threading.Event()
        looks = 0
        while not stop.is_set():
            try:
                self.reconcile()
            except Exception as e:  # a failed look (API blip) is retried at the next interval
                log.warning("rollout look failed: %r", e)
            looks += 1
            if self.state().status != RUNNING or (max_looks is not None and looks >= max_looks):
                break
            stop.wait(interval_s)
        return self.state()
