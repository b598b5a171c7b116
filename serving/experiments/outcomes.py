"""Served playlists and per-arm outcome counts: the evidence experiments are decided on.

Pure, bounded and clock-injected. One instance runs in the OutcomeStore deployment
(a single replica) so that every Ingress replica records into, and validates
feedback against, the same registry of served playlists.
"""

from __future__ import annotations

import bisect
import math
import sys
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Callable

from serving.experiments import statistics as st

EVENTS = ("play", "skip", "like", "save")
POSITIVE = ("like", "save")  # a playlist "converts" when the listener likes or saves any track in it
# Latency histogram bucket bounds in ms (x1.25 steps from 1 ms to ~80 s): a bounded p99 estimate.
LATENCY_BOUNDS_MS = tuple(round(1.25**i, 3) for i in range(0, 51))


class UnknownPlaylist(LookupError):
    pass


class TrackNotInPlaylist(ValueError):
    pass


@dataclass(frozen=True)
class Served:
    """One playlist as returned to a listener (sent from the ingress after the response is built)."""

    playlist_id: str
    track_ids: tuple[str, ...]
    arm: str
    experiment_id: str | None
    weights: dict[str, float] | None  # the weights in force when the arm was assigned (None for overrides)
    latency_ms: float
    intent_fallback: bool
    user_key: str | None = None


@dataclass(frozen=True)
class Failed:
    """A request that was assigned an arm and then failed."""

    arm: str
    experiment_id: str | None
    weights: dict[str, float] | None
    latency_ms: float


@dataclass
class _Record:
    track_ids: tuple[str, ...]
    arm: str
    experiment_id: str | None
    expires_at: float
    events: set[tuple[str, str]] | None = None
    converted: bool = False
    likes: int = 0


@dataclass
class ArmStats:
    assigned: int = 0
    served: int = 0
    errors: int = 0
    expected: float = 0.0  # sum of this arm's weight over assignments: the SRM expectation
    converted: int = 0
    fallbacks: int = 0
    events: Counter = field(default_factory=Counter)
    tracks_served: int = 0
    # Per-playlist sums for the cluster-robust like rate (y = likes, m = tracks of a playlist).
    like_yy: float = 0.0
    like_mm: float = 0.0
    like_ym: float = 0.0
    latency: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BOUNDS_MS) + 1))

    def observe_latency(self, ms: float) -> None:
        self.latency[bisect.bisect_left(LATENCY_BOUNDS_MS, ms)] += 1

    def like_sums(self) -> st.RatioSums:
        return st.RatioSums(n=self.served, y=self.events.get("like", 0), m=self.tracks_served,
                            yy=self.like_yy, mm=self.like_mm, ym=self.like_ym)

    def latency_quantile(self, q: float) -> float | None:
        total = sum(self.latency)
        if not total:
            return None
        need, acc = math.ceil(q * total), 0
        for i, c in enumerate(self.latency):
            acc += c
            if acc >= need:
                return LATENCY_BOUNDS_MS[min(i, len(LATENCY_BOUNDS_MS) - 1)]
        return LATENCY_BOUNDS_MS[-1]


@dataclass
class ShadowStats:
    runs: int = 0
    errors: int = 0
    dropped: int = 0
    overlap_sum: float = 0.0
    latency_sum_ms: float = 0.0

    def as_dict(self) -> dict:
        ok = self.runs - self.errors
        return {
            "runs": self.runs, "errors": self.errors, "dropped": self.dropped,
            "mean_overlap_with_live": round(self.overlap_sum / ok, 4) if ok else None,
            "mean_latency_ms": round(self.latency_sum_ms / ok, 1) if ok else None,
        }


class OutcomeStore:
    def __init__(
        self,
        max_playlists: int = 100_000,
        ttl_s: float = 24 * 3600,
        max_experiments: int = 32,
        clock: Callable[[], float] = time.monotonic,
    ):
        if max_playlists < 1 or ttl_s <= 0:
            raise ValueError("max_playlists must be >= 1 and ttl_s > 0")
        self.max_playlists, self.ttl_s, self.max_experiments = max_playlists, ttl_s, max_experiments
        self._clock = clock
        self._served: OrderedDict[str, _Record] = OrderedDict()
        self._experiments: OrderedDict[str, dict[str, ArmStats]] = OrderedDict()
        self._shadow: dict[str, ShadowStats] = {}
        self._last_weights: dict[str, dict[str, float]] = {}
        self.evicted = 0

    # -- recording ---------------------------------------------------------------------------
    def _arms(self, experiment_id: str) -> dict[str, ArmStats]:
        arms = self._experiments.get(experiment_id)
        if arms is None:
            arms = self._experiments[experiment_id] = {}
            while len(self._experiments) > self.max_experiments:  # bounded: drop the oldest experiment
                old, _ = self._experiments.popitem(last=False)
                self._shadow.pop(old, None)
                self._last_weights.pop(old, None)
        return arms

    def _assign(self, experiment_id: str | None, arm: str, weights: dict[str, float] | None) -> ArmStats | None:
        if experiment_id is None:
            return None
        arms = self._arms(experiment_id)
        s = arms.setdefault(arm, ArmStats())
        if weights is not None:  # overrides (QA) are served but kept out of the comparison
            self._last_weights[experiment_id] = dict(weights)
            for name, w in weights.items():
                arms.setdefault(name, ArmStats()).expected += w
            s.assigned += 1
            return s
        return None

    def record_served(self, rec: Served) -> None:
        now = self._clock()
        self._expire(now)
        self._served[rec.playlist_id] = _Record(
            tuple(sys.intern(t) for t in rec.track_ids), rec.arm, rec.experiment_id, now + self.ttl_s
        )
        while len(self._served) > self.max_playlists:
            self._served.popitem(last=False)
            self.evicted += 1
        s = self._assign(rec.experiment_id, rec.arm, rec.weights)
        if s is not None:
            s.served += 1
            s.tracks_served += len(rec.track_ids)
            s.like_mm += len(rec.track_ids) ** 2
            s.fallbacks += bool(rec.intent_fallback)
            s.observe_latency(rec.latency_ms)

    def record_failed(self, rec: Failed) -> None:
        s = self._assign(rec.experiment_id, rec.arm, rec.weights)
        if s is not None:
            s.errors += 1
            s.observe_latency(rec.latency_ms)

    def record_shadow(self, experiment_id: str, ok: bool, overlap: float, latency_ms: float, dropped: bool = False) -> None:
        s = self._shadow.setdefault(experiment_id, ShadowStats())
        if dropped:
            s.dropped += 1
            return
        s.runs += 1
        if ok:
            s.overlap_sum += overlap
            s.latency_sum_ms += latency_ms
        else:
            s.errors += 1

    def _expire(self, now: float) -> None:
        while self._served:
            pid, rec = next(iter(self._served.items()))
            if rec.expires_at > now:
                break
            self._served.popitem(last=False)
            self.evicted += 1

    def knows(self, playlist_id: str) -> bool:
        rec = self._served.get(playlist_id)
        return rec is not None and rec.expires_at > self._clock()

    # -- feedback ----------------------------------------------------------------------------
    def feedback(self, playlist_id: str, track_id: str, event: str) -> dict:
        """Validate against the served playlist and count the outcome once per (track, event)."""
        if event not in EVENTS:
            raise ValueError(f"event must be one of {', '.join(EVENTS)}, got '{event}'")
        rec = self._served.get(playlist_id)
        if rec is None or rec.expires_at <= self._clock():
            raise UnknownPlaylist(
                f"playlist '{playlist_id}' was not served here or has expired (kept {self.ttl_s:.0f}s); "
                "send feedback for a playlist_id returned by POST /v1/playlists"
            )
        if track_id not in rec.track_ids:
            raise TrackNotInPlaylist(f"track '{track_id}' is not in playlist '{playlist_id}'; use a track_id it returned")
        rec.events = rec.events or set()
        duplicate = (track_id, event) in rec.events
        if not duplicate:
            rec.events.add((track_id, event))
            if rec.experiment_id is not None and rec.experiment_id in self._experiments:
                s = self._experiments[rec.experiment_id].setdefault(rec.arm, ArmStats())
                s.events[event] += 1
                if event == "like":
                    s.like_yy += 2 * rec.likes + 1  # (c+1)^2 - c^2
                    s.like_ym += len(rec.track_ids)
                    rec.likes += 1
                if event in POSITIVE and not rec.converted:
                    rec.converted = True
                    s.converted += 1
        return {"playlist_id": playlist_id, "arm": rec.arm, "experiment_id": rec.experiment_id,
                "counted": not duplicate}

    # -- reading -----------------------------------------------------------------------------
    def experiment_ids(self) -> list[str]:
        return list(self._experiments)

    def summary(
        self, experiment_id: str, control: str | None = None, alpha: float = 0.05,
        tau_like_rate: float = 0.01, tau_conversion: float = 0.05,
    ) -> dict | None:
        """Per-arm numbers, SRM and always-valid comparisons against the control.
        The primary metric is the like rate (likes / tracks served, cluster-robust CI)."""
        arms = self._experiments.get(experiment_id)
        if arms is None:
            return None
        names = sorted(arms)
        control = control if control in arms else (names[0] if names else None)
        out_arms = {}
        for name in names:
            s = arms[name]
            attempts = s.served + s.errors
            out_arms[name] = {
                "assigned": s.assigned,
                "served": s.served,
                "errors": s.errors,
                "error_rate": (s.errors / attempts) if attempts else None,
                "expected": round(s.expected, 3),
                "like_rate": st.ratio_summary(s.like_sums()),
                "conversion": st.rate_summary(s.converted, s.served),
                "events": {e: s.events.get(e, 0) for e in EVENTS},
                "intent_fallback_rate": (s.fallbacks / s.served) if s.served else None,
                "latency_p50_ms": s.latency_quantile(0.5),
                "latency_p99_ms": s.latency_quantile(0.99),
            }
        srm = st.srm_test({n: arms[n].assigned for n in names}, {n: arms[n].expected for n in names})
        comparisons = {}
        if control is not None:
            c = arms[control]
            for name in names:
                if name != control:
                    t = arms[name]
                    comparisons[name] = {
                        "like_rate": st.msprt_ratios(c.like_sums(), t.like_sums(), tau_like_rate, alpha).as_dict(),
                        "conversion": st.msprt_two_proportions(
                            c.converted, c.served, t.converted, t.served, tau=tau_conversion, alpha=alpha
                        ).as_dict(),
                    }
        return {
            "experiment_id": experiment_id,
            "control": control,
            "weights": self._last_weights.get(experiment_id),
            "alpha": alpha,
            "metrics": {
                "like_rate": "likes / tracks served (primary; CI cluster-robust over playlists)",
                "conversion": "share of served playlists with at least one like or save",
            },
            "arms": out_arms,
            "srm": srm.as_dict(),
            "comparisons": comparisons,
            "shadow": self._shadow[experiment_id].as_dict() if experiment_id in self._shadow else None,
            "served_playlists_kept": len(self._served),
        }
