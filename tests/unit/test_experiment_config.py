import pytest

from serving.config import AppConfig, ConfigError
from serving.experiments.components import arm_app_config, check_app, check_experiment, intent_variant
from serving.experiments.config import (
    ArmComponents, ExperimentConfigError, experiment_from_user_config, parse_experiment,
)


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
    ({"arms": [{"name": "a", "weight": 1, "components": {"ranker": "a;b"}}]}, "cannot contain ';'"),
    ({"control": "zzz"}, "control 'zzz' is not one of the arms"),
    ({"shadow": {"name": "canary", "components": {}}}, "clashes with a live arm"),
    ({"arms": [{"name": "Bad Name", "weight": 1}]}, "arms.0.name"),
    ({"rankr": 1}, "rankr: unknown key"),
])
def test_invalid_configs_say_what_is_wrong(change, message):
    with pytest.raises(ExperimentConfigError) as e:
        parse_experiment(exp(**change))
    assert message in str(e.value)


@pytest.mark.parametrize("components, message", [
    ({"ranker": "nope"}, "arms.0.components: ranker 'nope' is not registered; available: baseline-v1"),
    ({"intent_backend": "gpt"}, "intent_backend 'gpt' is unknown"),
    ({"index_kind": "ivf"}, "index_kind 'ivf' is unknown"),
    ({"embedder": "bert-huge"}, "embedder 'bert-huge'"),
    ({"prompt_version": "v9"}, "prompt_version 'v9' has no template in serving/intent/prompts/; available: v1, v2"),
])
def test_unknown_versions_are_refused_when_the_app_is_built(components, message):
    """Parsing checks shapes; which versions this build ships is checked by build_app (check_app)."""
    data = exp(arms=[{"name": "a", "weight": 1, "components": components}])
    parsed = parse_experiment(data)  # parses: the version names are well-formed
    with pytest.raises(ExperimentConfigError) as e:
        check_experiment(parsed)
    assert message in str(e.value)
    with pytest.raises(ConfigError, match="arms.0.components"):
        check_app(AppConfig.from_dict({"experiment": data}))


def test_prompt_version_arms_are_valid():
    """prompt_version lives on the LLM backends' configs; an arm naming a shipped template is accepted."""
    e = parse_experiment(exp(arms=[{"name": "v1", "weight": 0.5, "components": {"intent_backend": "vllm"}},
                                   {"name": "v2", "weight": 0.5,
                                    "components": {"intent_backend": "vllm", "prompt_version": "v2"}}]))
    check_experiment(e)
    cfg = arm_app_config(AppConfig(), e.components_of("v2"))
    assert cfg.intent.vllm.prompt_version == "v2" and cfg.intent.openai.prompt_version == "v2"
    assert intent_variant(cfg) == "vllm:v2"
    assert intent_variant(arm_app_config(AppConfig(), e.components_of("v1"))) == "vllm:v1"


def test_arm_keys_round_trip_and_name_the_defaults_empty():
    c = ArmComponents(ranker="ltr-v1", prompt_version="v2")
    assert c.key == "ranker=ltr-v1;prompt_version=v2"
    assert ArmComponents.from_key(c.key) == c
    assert ArmComponents().key == "" and ArmComponents.from_key("") == ArmComponents()
    with pytest.raises(ValueError, match="not a valid component list"):
        ArmComponents.from_key("colour=red")


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
