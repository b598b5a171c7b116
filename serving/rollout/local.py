"""Weights on a Serve app running on this Ray cluster, changed the way KubeRay changes
them: a declarative deploy whose only difference is the Ingress `user_config`, so
Serve calls reconfigure() on the running replicas (no restart, no dropped request).

Ray has no public Python call for a declarative deploy; this uses the Serve
controller client method behind the Serve REST API (`PUT /api/serve/applications/`,
what KubeRay and `serve deploy` call). `serve.run` would restart the replicas.
"""

from __future__ import annotations

import os
import time

from serving.config import AppConfig
from serving.experiments.config import ExperimentConfig
from serving.rollout.controller import WeightActuator

IMPORT_PATH = "serving.app:app_builder"


def deploy_config(config: AppConfig, experiment: ExperimentConfig | None) -> dict:
    """The Serve config (the shape of a RayService's serveConfigV2) for this app."""
    return {"applications": [{
        "name": config.name, "route_prefix": config.route_prefix, "import_path": IMPORT_PATH,
        "args": config.model_dump(mode="json"),
        "deployments": [{"name": "Ingress",
                         "user_config": {"experiment": experiment.model_dump(mode="json") if experiment else None}}],
    }]}


def deploy(config: AppConfig, experiment: ExperimentConfig | None, wait_s: float = 120) -> None:
    from ray import serve
    from ray.serve.context import _get_global_client
    from ray.serve.schema import ServeDeploySchema

    _get_global_client().deploy_apps(ServeDeploySchema.model_validate(deploy_config(config, experiment)))
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        app = serve.status().applications.get(config.name)
        if app is not None and str(app.status).endswith("RUNNING"):
            return
        if app is not None and str(app.status).endswith("DEPLOY_FAILED"):
            raise RuntimeError(f"deploy of {config.name} failed: {app.message}")
        time.sleep(0.2)
    raise TimeoutError(f"{config.name} not RUNNING after {wait_s}s")


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

    def set_weights(self, weights: dict[str, float]) -> None:
        new = self._experiment.with_weights(weights)
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
