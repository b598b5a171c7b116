"""build_app(config) -> the Ray Serve application. The only module that calls
serve.deployment / bind; also the import_path target for `serve run` and the
RayService serveConfigV2 (`serving.app:app_builder`, with `args` = AppConfig)."""

from __future__ import annotations

from typing import Any

from ray import serve
from ray.serve import Application

from serving.config import AppConfig
from serving.experiments.components import check_app
from serving.experiments.store_deployment import OutcomeStoreDeployment
from serving.ingress import create_api, ingress_class
from serving.intent.deployment import IntentModelDeployment
from serving.microbatch import micro_batch
from serving.ranking.deployment import RankerDeployment
from serving.retrieval.deployment import RetrieverDeployment


# One replica: the records are in the database (AppConfig.store), so a restart loses nothing;
# one writer keeps group commits large and SQLite single-writer.
# Checked every 2 s like the others (DeploymentConfig.health_check_period_s): a killed store replica
# is replaced after the next check.
OUTCOME_STORE_OPTIONS: dict[str, Any] = {"num_replicas": 1, "ray_actor_options": {"num_cpus": 0.0},
                                         "health_check_period_s": 2.0}


def build_app(config: AppConfig) -> Application:
    # Which versions exist is known only here (parsing checks shapes): a bad arm fails the build.
    check_app(config)
    d, log = config.deployments, config.logging
    api = create_api(config)
    # The experiment lives in the Ingress user_config so that weights change live via reconfigure().
    user_config = {"experiment": config.experiment.model_dump(mode="json") if config.experiment else None}
    b = config.batching
    batch = micro_batch(b.max_batch_size, b.batch_wait_timeout_s, b.max_concurrent_batches) if b.enabled else None
    ingress = serve.deployment(name="Ingress", user_config=user_config, **d.ingress.serve_options(log))(
        ingress_class(api, serve.ingress(api), batch)
    )
    intent = serve.deployment(name="IntentModel", **d.intent.serve_options(log))(IntentModelDeployment)
    retriever = serve.deployment(name="Retriever", **d.retriever.serve_options(log))(RetrieverDeployment)
    ranker = serve.deployment(name="Ranker", **d.ranker.serve_options(log))(RankerDeployment)
    outcomes = serve.deployment(name="OutcomeStore", **OUTCOME_STORE_OPTIONS)(OutcomeStoreDeployment)
    return ingress.bind(intent.bind(config), retriever.bind(config), ranker.bind(config), config, outcomes.bind(config))


def app_builder(args: dict[str, Any]) -> Application:
    """Entry point for Serve config files: `args` is validated as an AppConfig.
    `args: {config_file: path}` loads a YAML instead."""
    if set(args) == {"config_file"}:
        return build_app(AppConfig.from_yaml(args["config_file"]))
    return build_app(AppConfig.from_dict(dict(args), source="serve args"))
