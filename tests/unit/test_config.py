from pathlib import Path

import pytest
import yaml

from serving.config import AppConfig, ConfigError, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "serving" / "configs"


def test_default_config_file_parses():
    cfg = load_config(CONFIGS / "default.yaml")
    assert cfg.http.port == 8000
    assert cfg.deployments.retriever.serve_options()["autoscaling_config"]["max_replicas"] >= 1


def test_serve_config_args_are_an_app_config():
    serve_cfg = yaml.safe_load((CONFIGS / "serve_config.yaml").read_text())
    app = serve_cfg["applications"][0]
    assert app["import_path"] == "serving.app:app_builder"
    AppConfig.from_dict(app["args"])


def test_typo_key_is_named(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("retrieval:\n  top_kk: 5\n")
    with pytest.raises(ConfigError, match=r"retrieval\.top_kk: unknown key"):
        AppConfig.from_yaml(p)


def test_wrong_type_and_bounds_are_named():
    with pytest.raises(ConfigError, match=r"http\.port"):
        AppConfig.from_dict({"http": {"port": "eighty"}})
    with pytest.raises(ConfigError, match="max_replicas"):
        AppConfig.from_dict({"deployments": {"ranker": {"autoscaling": {"min_replicas": 3, "max_replicas": 1}}}})


def test_missing_and_non_mapping_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        AppConfig.from_yaml(tmp_path / "none.yaml")
    p = tmp_path / "list.yaml"
    p.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        AppConfig.from_yaml(p)


def test_config_is_frozen():
    cfg = AppConfig()
    with pytest.raises(Exception):
        cfg.http.port = 1  # type: ignore[misc]


def test_gpu_resources_reach_serve_options():
    cfg = AppConfig.from_dict({"deployments": {"intent": {"resources": {"num_cpus": 1, "num_gpus": 1}}}})
    assert cfg.deployments.intent.serve_options()["ray_actor_options"] == {"num_cpus": 1.0, "num_gpus": 1.0}
