"""What the Ingress does for experiments, free of Ray and FastAPI: pick the arm (sticky
hash, or the authenticated QA override), record exposures, failures and outcomes,
mirror a sample to the shadow arm, and swap the config on `reconfigure()`.

The config is held as one immutable snapshot replaced by a single reference
assignment, so a request in flight keeps the snapshot it started with.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Any, Awaitable, Callable

from serving.errors import InvalidRequest, NotFound, SegueError, StoreUnavailable, Unauthorized, UnprocessableFeedback
from serving.experiments.assignment import Assigner
from serving.experiments.components import (
    all_arm_components, arm_app_config, check_experiment, intent_variant, retrieval_variant,
)
from serving.experiments.config import ExperimentConfig, ExperimentConfigError, experiment_from_user_config
from serving.experiments.outcomes import (
    Failed, FeedbackAccepted, FeedbackRejected, FeedbackResult, Rejection, Served, StoreDown,
)
from serving.experiments.served_batch import ServedBatcher
from serving.experiments.shadow import ShadowRunner, sampled
from serving.metrics import SegueMetrics
from serving.schemas import RequestContext
from serving.security.auth import AdminAuth

log = logging.getLogger(__name__)

OVERRIDE_HEADER = "x-segue-arm"
NO_EXPERIMENT = "none"  # metric label when no experiment runs


class OutcomeSink(abc.ABC):
    """Where served playlists, failures, shadow results and feedback go (one shared store)."""

    @abc.abstractmethod
    async def record_served(self, rec: Served) -> None: ...

    async def record_served_batch(self, recs: list[Served]) -> None:
        """Several records in one call (the Ingress coalesces a batch's records); sinks with a
        per-call cost override it."""
        for rec in recs:
            await self.record_served(rec)

    @abc.abstractmethod
    async def record_failed(self, rec: Failed) -> None: ...

    @abc.abstractmethod
    async def record_shadow(self, experiment_id: str, ok: bool, overlap: float, latency_ms: float, dropped: bool) -> None: ...

    @abc.abstractmethod
    async def feedback(self, playlist_id: str, track_id: str, event: str) -> FeedbackResult:
        """Accepted (counted or a duplicate), or rejected with a typed reason."""

    @abc.abstractmethod
    async def summary(self, experiment_id: str, control: str | None) -> dict | None | StoreDown:
        """None: the experiment has no recorded traffic."""


# How a rejected feedback event reaches the client (the status comes from serving.errors.STATUS).
REJECTION_ERRORS: dict[Rejection, type[SegueError]] = {
    Rejection.UNKNOWN_PLAYLIST: NotFound,
    Rejection.TRACK_NOT_IN_PLAYLIST: UnprocessableFeedback,
    Rejection.INVALID_EVENT: InvalidRequest,
    Rejection.STORE_UNAVAILABLE: StoreUnavailable,
    Rejection.NOT_YET_RECORDED: StoreUnavailable,
}


@dataclass(frozen=True)
class Assignment:
    ctx: RequestContext
    weights: dict[str, float] | None  # None: no experiment, or a QA override (kept out of the statistics)


@dataclass(frozen=True)
class _Snapshot:
    experiment: ExperimentConfig | None
    assigner: Assigner | None
    keys: dict[str, str]  # arm name -> arm key (live and shadow arms); deployments resolve the key


def _snapshot(exp: ExperimentConfig | None) -> _Snapshot:
    if exp is None:
        return _Snapshot(None, None, {})
    keys = {a.name: a.components.key for a in exp.arms}
    if exp.shadow is not None:
        keys[exp.shadow.name] = exp.shadow.components.key
    return _Snapshot(exp, Assigner.from_weights(exp.salt, [(a.name, a.weight) for a in exp.arms]), keys)


class ExperimentRuntime:
    def __init__(self, app_config, sink: OutcomeSink, metrics: SegueMetrics, admin: AdminAuth):
        self._app_config = app_config
        self._sink = sink
        self._metrics = metrics
        self._admin = admin
        # Heavy components (indexes, intent backends) are loaded when the graph starts;
        # a live config may only use those. Rankers are small and built on demand.
        loaded = [arm_app_config(app_config, c) for c in all_arm_components(app_config)]
        self._loaded_retrieval = {retrieval_variant(c) for c in loaded}
        self._loaded_intent = {intent_variant(c) for c in loaded}
        self._snap = _snapshot(app_config.experiment)
        self._shadow = ShadowRunner(app_config.experiment.shadow.max_in_flight if app_config.experiment and app_config.experiment.shadow else 4)
        self._background: set[asyncio.Task] = set()
        self._served = ServedBatcher(sink.record_served_batch, self._later)
        self.generation = 0
        # When each weight split came into force here, and why: the console's rollout timeline.
        # Per replica and in memory; it starts again with the config in force at start-up.
        self._history: deque[dict] = deque(maxlen=100)
        self._remember(app_config.experiment, "in force at start-up")

    @property
    def experiment(self) -> ExperimentConfig | None:
        return self._snap.experiment

    # -- live config -------------------------------------------------------------------------
    def reconfigure(self, user_config: Any) -> None:
        """Validate first, then swap: an invalid config raises and the old one stays in force."""
        exp = experiment_from_user_config(user_config)
        if exp is not None:
            check_experiment(exp, source="user_config.experiment")
            self._check_loaded(exp)
        self._snap = _snapshot(exp)
        if exp is not None and exp.shadow is not None:
            self._shadow.max_in_flight = exp.shadow.max_in_flight
        self.generation += 1
        self._remember(exp)
        log.info("experiment config %s (generation %d): %s", exp.id if exp else "cleared", self.generation,
                 exp.weights if exp else {})

    def _remember(self, exp: ExperimentConfig | None, default_reason: str | None = None) -> None:
        if exp is None:
            return
        last = self._history[-1] if self._history else None
        if last is not None and last["experiment_id"] == exp.id and last["weights"] == exp.weights:
            return  # a reconfigure that did not change the split (e.g. a replayed config)
        self._history.append({"experiment_id": exp.id, "at": time.time(), "generation": self.generation,
                              "weights": exp.weights, "reason": exp.change_reason or default_reason})

    def weights_history(self, experiment_id: str) -> list[dict]:
        return [{k: v for k, v in h.items() if k != "experiment_id"} for h in self._history
                if h["experiment_id"] == experiment_id]

    def _check_loaded(self, exp: ExperimentConfig) -> None:
        arms = [(a.name, a.components) for a in exp.arms]
        if exp.shadow is not None:
            arms.append((exp.shadow.name, exp.shadow.components))
        for name, comps in arms:
            cfg = arm_app_config(self._app_config, comps)
            if retrieval_variant(cfg) not in self._loaded_retrieval or intent_variant(cfg) not in self._loaded_intent:
                raise ExperimentConfigError(
                    f"user_config.experiment: arm '{name}' needs an embedder/index or intent backend/prompt that the "
                    "graph did not load at start-up; add the arm to the app's `experiment` args and redeploy "
                    "(live updates may change weights, rankers and arms over loaded components)"
                )

    # -- assignment --------------------------------------------------------------------------
    def assign(self, request_id: str, user_id: str | None, headers: dict[str, str]) -> Assignment:
        snap = self._snap
        key = user_id or request_id
        override = headers.get(OVERRIDE_HEADER)
        if override is not None:
            return self._override(snap, request_id, key, override.strip(), headers.get("authorization", ""))
        if snap.experiment is None:
            return Assignment(RequestContext(request_id=request_id, user_key=key), None)
        arm = snap.assigner.assign(key)
        ctx = RequestContext(request_id=request_id, user_key=key, arm=arm, experiment_id=snap.experiment.id,
                             arm_key=snap.keys[arm])
        self._metrics.experiment_event(snap.experiment.id, arm, "exposure")
        return Assignment(ctx, snap.experiment.weights)

    def _override(self, snap: _Snapshot, request_id: str, key: str, arm: str, authorization: str) -> Assignment:
        if not self._admin.enabled:
            raise Unauthorized("the X-Segue-Arm override is disabled: the server has no admin token (SEGUE_ADMIN_TOKEN)")
        if not self._admin.allows(authorization):
            raise Unauthorized("X-Segue-Arm needs 'Authorization: Bearer <admin token>' (SEGUE_ADMIN_TOKEN)")
        exp = snap.experiment
        if exp is None or not exp.allow_override:
            raise InvalidRequest("X-Segue-Arm was sent but no experiment that allows overrides is running")
        if arm not in snap.keys:
            raise InvalidRequest(f"X-Segue-Arm '{arm}' is not an arm of experiment '{exp.id}'; "
                                 f"arms: {', '.join(snap.keys)}")
        ctx = RequestContext(request_id=request_id, user_key=key, arm=arm, experiment_id=exp.id,
                             arm_key=snap.keys[arm])
        self._metrics.experiment_event(exp.id, arm, "override")
        return Assignment(ctx, None)

    # -- recording ---------------------------------------------------------------------------
    def _later(self, coro: Awaitable[None]) -> None:
        """Off the live path: recording never delays or fails a response."""
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("recording an experiment event failed: %r", task.exception())

    def served(self, a: Assignment, playlist_id: str, track_ids: list[str], latency_ms: float, intent_fallback: bool) -> None:
        ctx = a.ctx
        self._served.add(Served(
            playlist_id=playlist_id, track_ids=tuple(track_ids), arm=ctx.arm, experiment_id=ctx.experiment_id,
            weights=a.weights, latency_ms=latency_ms, intent_fallback=intent_fallback, user_key=ctx.user_key,
        ))

    def failed(self, a: Assignment, latency_ms: float) -> None:
        ctx = a.ctx
        self._metrics.experiment_event(ctx.experiment_id or NO_EXPERIMENT, ctx.arm, "error")
        self._later(self._sink.record_failed(Failed(ctx.arm, ctx.experiment_id, a.weights, latency_ms)))

    def maybe_shadow(self, a: Assignment, live_track_ids: list[str], run: Callable[[RequestContext], Awaitable[list[str]]]) -> bool:
        """Mirror a sample of live (non-override) traffic through the shadow arm, in the background."""
        exp = self._snap.experiment
        if exp is None or exp.shadow is None or a.weights is None:
            return False
        if not sampled(a.ctx.request_id, exp.shadow.sample_rate, salt=exp.salt):
            return False
        sh = exp.shadow
        ctx = replace(a.ctx, arm=sh.name, arm_key=sh.components.key)

        async def record(ok: bool, overlap: float, latency_ms: float, dropped: bool) -> None:
            event = "shadow_dropped" if dropped else ("shadow" if ok else "shadow_error")
            self._metrics.experiment_event(exp.id, sh.name, event)
            await self._sink.record_shadow(exp.id, ok, overlap, latency_ms, dropped)

        return self._shadow.submit(lambda: run(ctx), live_track_ids, record)

    # -- feedback and summaries --------------------------------------------------------------
    async def feedback(self, playlist_id: str, track_id: str, event: str) -> FeedbackAccepted:
        if self._served.holds(playlist_id):  # served here moments ago: let its record land first
            await self._served.settle()
        res = await self._sink.feedback(playlist_id, track_id, event)
        if isinstance(res, FeedbackRejected):
            err = REJECTION_ERRORS[res.reason]
            raise err(res.message, retry_after_s=2 if err is StoreUnavailable else None)
        if not isinstance(res, FeedbackAccepted):
            raise SegueError(f"feedback store answered {type(res).__name__}, not a FeedbackResult")
        if res.counted:  # the one place feedback is counted
            self._metrics.feedback(res.experiment_id, res.arm, event)
        return res

    async def summary(self, experiment_id: str) -> dict:
        exp = self._snap.experiment
        control = exp.control_arm if exp is not None and exp.id == experiment_id else None
        await self._served.settle()  # what this replica served counts in the summary it answers
        out = await self._sink.summary(experiment_id, control)
        if isinstance(out, StoreDown):
            raise StoreUnavailable(out.message, retry_after_s=2)
        if out is None:
            raise NotFound(f"experiment '{experiment_id}' has no recorded traffic"
                           + (f"; the running experiment is '{exp.id}'" if exp else "; no experiment is running"))
        if exp is not None and exp.id == experiment_id:
            out["weights"] = exp.weights
            out["config_generation"] = self.generation
        out["weights_history"] = self.weights_history(experiment_id)
        return out

    def describe(self) -> dict | None:
        """The running experiment as the console shows it (arms, weights, components; no secrets)."""
        exp = self._snap.experiment
        if exp is None:
            return None
        return {"id": exp.id, "control": exp.control_arm, "allow_override": exp.allow_override,
                "admin_enabled": self._admin.enabled, "weights": exp.weights,
                "arms": [{"name": a.name, "weight": a.weight, "components": a.components.overrides()} for a in exp.arms],
                "shadow": None if exp.shadow is None else {"name": exp.shadow.name, "sample_rate": exp.shadow.sample_rate,
                                                            "components": exp.shadow.components.overrides()}}
