import pytest

from serving.config import AppConfig, ConfigError
from serving.experiments.config import ExperimentConfigError, experiment_from_user_config, parse_experiment


def exp(**kw):
    base = {"id": "rk", "salt": "s", "arms": [{"name": "control", "weight": 0.9},
                                             {"name": "canary", "weight": 0.1, "components": {"ranker": "baseline-v2"}}]}
    base.update(kw)
    return base


def test_valid_config_and_defaults():
    e = parse_experiment(exp())
    assert e.control_arm == "control" and e.weights == {"control": 0.9, "canary": 0.1}
    assert e.components_of("canary").overrides() == {"ranker": "baseline-v2"}


@pytest.mark.parametrize("change, message", [
    ({"arms": [{"name": "a", "weight": 0.5}, {"name": "b", "weight": 0.4}]}, "arm weights must sum to 1, got 0.9"),
    ({"arms": [{"name": "a", "weight": 0.5}, {"name": "a", "weight": 0.5}]}, "arm names must be unique; repeated: a"),
    ({"arms": [{"name": "a", "weight": 1, "components": {"ranker": "nope"}}]},
     "ranker 'nope' is not registered; available: baseline-v1"),
    ({"arms": [{"name": "a", "weight": 1, "components": {"intent_backend": "gpt"}}]}, "intent_backend 'gpt' is unknown"),
    ({"arms": [{"name": "a", "weight": 1, "components": {"index_kind": "ivf"}}]}, "index_kind 'ivf' is unknown"),
    ({"arms": [{"name": "a", "weight": 1, "components": {"embedder": "bert-huge"}}]}, "embedder 'bert-huge'"),
    ({"control": "zzz"}, "control 'zzz' is not one of the arms"),
    ({"shadow": {"name": "canary", "components": {}}}, "clashes with a live arm"),
    ({"arms": [{"name": "Bad Name", "weight": 1}]}, "arms.0.name"),
    ({"rankr": 1}, "rankr: unknown key"),
])
def test_invalid_configs_say_what_is_wrong(change, message):
    with pytest.raises(ExperimentConfigError) as e:
        parse_experiment(exp(**change))
    assert message in str(e.value)


def test_app_config_carries_the_experiment_and_reports_errors_by_path():
    assert AppConfig.from_dict({"experiment": exp()}).experiment.id == "rk"
    with pytest.raises(ConfigError, match="experiment.arms"):
        AppConfig.from_dict({"experiment": exp(arms=[{"name": "a", "weight": 0.2}])})


def test_with_weights_revalidates():
    e = parse_experiment(exp())
    assert e.with_weights({"control": 0.5, "canary": 0.5}).weights == {"control": 0.5, "canary": 0.5}
    with pytest.raises(ExperimentConfigError, match="sum to 1"):
        e.with_weights({"canary": 0.5})
    with pytest.raises(ValueError, match="unknown arms"):
        e.with_weights({"other": 1.0})


def test_user_config_shape():
    assert experiment_from_user_config({"experiment": None}) is None
    assert experiment_from_user_config({"experiment": exp()}).id == "rk"
    with pytest.raises(ExperimentConfigError, match="single key 'experiment'"):
        experiment_from_user_config({"weights": {}})
