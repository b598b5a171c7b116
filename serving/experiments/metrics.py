"""Per-arm Prometheus series through Ray's metrics API (exported by every Ray node)."""

from __future__ import annotations

from serving.experiments.runtime import ArmMeter

LATENCY_BOUNDARIES_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]


class RayArmMeter(ArmMeter):
    def __init__(self):
        from ray.util import metrics

        self._events = metrics.Counter(
            "segue_experiment_events_total",
            description="Experiment events per arm: exposure, override, error, shadow*, play, skip, like, save.",
            tag_keys=("experiment", "arm", "event"),
        )
        self._latency = metrics.Histogram(
            "segue_experiment_request_latency_ms",
            description="Ingress latency of playlist requests per experiment arm.",
            boundaries=LATENCY_BOUNDARIES_MS,
            tag_keys=("experiment", "arm"),
        )

    def count(self, experiment: str, arm: str, event: str) -> None:
        self._events.inc(1, tags={"experiment": experiment, "arm": arm, "event": event})

    def latency(self, experiment: str, arm: str, ms: float) -> None:
        self._latency.observe(ms, tags={"experiment": experiment, "arm": arm})
