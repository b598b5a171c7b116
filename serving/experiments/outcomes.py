"""Experiment evidence as values: what the ingress records (Served, Failed), what feedback
answers (FeedbackResult), per-arm aggregates (ArmStats) and the summary computed from them.

Pure: storage lives in outcome_store.py (SQL) and the async service in outcome_service.py.
"""

from __future__ import annotations

import bisect
import enum
import math
from collections import Counter
from dataclasses import dataclass, field

from serving.experiments import statistics as st

EVENTS = ("play", "skip", "like", "save")
POSITIVE = ("like", "save")  # a playlist "converts" when the listener likes or saves any track in it
# Latency histogram bucket bounds in ms (x1.25 steps from 1 ms to ~80 s): a bounded p99 estimate.
LATENCY_BOUNDS_MS = tuple(round(1.25**i, 3) for i in range(0, 51))


class Rejection(enum.Enum):
    """Why feedback was not recorded. Crosses the Serve hop as a value; the ingress maps it
    to a domain error (and so to an HTTP status) in one table."""

    UNKNOWN_PLAYLIST = "unknown_playlist"
    TRACK_NOT_IN_PLAYLIST = "track_not_in_playlist"
    INVALID_EVENT = "invalid_event"
    STORE_UNAVAILABLE = "store_unavailable"
    NOT_YET_RECORDED = "not_yet_recorded"  # issued moments ago; its record may still be on its way


@dataclass(frozen=True)
class FeedbackAccepted:
    playlist_id: str
    arm: str
    experiment_id: str | None
    counted: bool  # False: this (track, event) was already recorded for the playlist


@dataclass(frozen=True)
class FeedbackRejected:
    reason: Rejection
    message: str


FeedbackResult = FeedbackAccepted | FeedbackRejected


@dataclass(frozen=True)
class StoreDown:
    """A read could not reach the database (the ingress answers 503 with Retry-After)."""

    message: str


def latency_bucket(ms: float) -> int:
    return bisect.bisect_left(LATENCY_BOUNDS_MS, ms)


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
        self.latency[latency_bucket(ms)] += 1

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


def summarize(
    experiment_id: str, arms: dict[str, ArmStats], weights: dict[str, float] | None,
    shadow: ShadowStats | None, served_playlists_kept: int, control: str | None = None, alpha: float = 0.05,
    tau_like_rate: float = 0.01, tau_conversion: float = 0.05,
) -> dict:
    """Per-arm numbers, SRM and always-valid comparisons against the control.
    The primary metric is the like rate (likes / tracks served, cluster-robust CI)."""
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
        "weights": weights,
        "alpha": alpha,
        "metrics": {
            "like_rate": "likes / tracks served (primary; CI cluster-robust over playlists)",
            "conversion": "share of served playlists with at least one like or save",
        },
        "arms": out_arms,
        "srm": srm.as_dict(),
        "comparisons": comparisons,
        "shadow": shadow.as_dict() if shadow is not None else None,
        "served_playlists_kept": served_playlists_kept,
    }
