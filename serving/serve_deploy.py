"""Declarative deploys of the app on a local Ray, the way KubeRay applies a RayService's
serveConfigV2: a change that touches only the Ingress user_config reaches reconfigure()
on the running replicas (no restart, no dropped request).

Ray has no public Python call for a declarative deploy; this uses the Serve controller
client method behind the Serve REST API (`PUT /api/serve/applications/`, what KubeRay and
`serve deploy` call). `serve.run` would restart the replicas.
"""

from __future__ import annotations

import time

from serving.config import AppConfig
from serving.experiments.config import ExperimentConfig

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
