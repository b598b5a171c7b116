"""Weights on a Serve app running on this Ray cluster, changed the way KubeRay changes
them: a declarative deploy whose only difference is the Ingress `user_config`, so
Serve calls reconfigure() on the running replicas (no restart, no dropped request);
the deploy itself is serving/serve_deploy.py.
"""

from __future__ import annotations

import os
import time

from serving.config import AppConfig
from serving.experiments.config import ExperimentConfig
from serving.rollout.controller import WeightActuator
from serving.serve_deploy import IMPORT_PATH, deploy, deploy_config  # noqa: F401 - callers import them from here

class LocalServeActuator(WeightActuator):
    def __init__(self, config: AppConfig):
        if config.experiment is None:
            raise ValueError("the app config has no experiment to change weights of")
        self._config = config
        self._experiment = config.experiment

    @property
    def experiment(self) -> ExperimentConfig:
        return self._experiment

    def weights(self) -> dict[str, float]:
        return self._experiment.weights

    def set_weights(self, weights: dict[str, float], reason: str | None = None) -> None:
        new = self._experiment.with_weights(weights, reason)
        deploy(self._config, new)
        self._experiment = new


def start_local(config: AppConfig, num_cpus: int = 2, timeout_s: float = 300) -> str:
    """Start (or join) a local Ray + Serve, deploy the app declaratively and wait for /readyz.
    Returns the base URL (the proxy's own port if Serve was already running). The caller
    owns serve.shutdown() / ray.shutdown()."""
    import httpx
    import ray
    from ray import serve
    from ray.serve.context import _get_global_client

    from serving.retrieval.prebuild import ensure_index

    ensure_index(config, quiet=True)  # build here (all cores) before Ray; replicas load the cache
    if not ray.is_initialized():
        from serving.server import ray_env

        # Ray Serve reads its tracing and edge settings from the environment of every process it starts.
        os.environ.update(ray_env(config))
        ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level="ERROR", log_to_driver=False,
                 _metrics_export_port=config.telemetry.metrics_export_port)
    from serving.server import http_options

    serve.start(http_options=http_options(config))
    deploy(config, config.experiment, wait_s=timeout_s)
    base = _get_global_client().root_url.rstrip("/") + config.route_prefix.rstrip("/")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                return base
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{config.name} not ready at {base} after {timeout_s}s")


def start_local_rollout(config: AppConfig, base_url: str, policy, interval_s: float, stop) -> None:
    """Run local_controller in a daemon thread until `stop` is set or the rollout ends."""
    import logging
    import threading

    logging.getLogger("serving.rollout").setLevel(logging.INFO)
    ctl = local_controller(config, base_url, policy)
    print(f"  rollout: {ctl.canary} of {ctl.experiment_id} along {', '.join(f'{w:.0%}' for w in ctl.policy.schedule)}, "
          f"a look every {interval_s:g}s, {ctl.policy.min_served_per_step} canary playlists per step", flush=True)
    threading.Thread(target=ctl.run, args=(interval_s, None, stop), name="rollout", daemon=True).start()


def local_controller(config: AppConfig, base_url: str, policy=None):
    """The rollout controller for the experiment of a graph this process deployed
    declaratively: its control against its only other arm, state and events in memory
    (the events go to the log; the decisions reach the console with the weights)."""
    from serving.rollout.controller import InMemoryStateStore, LogEventSink, RolloutController, ServiceMetricsSource

    exp = config.experiment
    if exp is None:
        raise ValueError("the app config has no experiment to roll out")
    others = [a.name for a in exp.arms if a.name != exp.control_arm]
    if len(others) != 1:
        raise ValueError(f"experiment {exp.id} has arms {others} besides the control; a local rollout needs exactly one")
    return RolloutController(exp.id, exp.control_arm, others[0], LocalServeActuator(config), ServiceMetricsSource(base_url),
                             InMemoryStateStore(), LogEventSink(), policy)
