"""`segue serve --rollout`: refuses configs it cannot roll out, before anything starts."""

import pytest

from serving.cli import main
from serving.config import AppConfig
from serving.rollout.local import local_controller
from serving.rollout.policy import RolloutPolicy


def test_rollout_without_an_experiment_is_refused_before_ray_starts(capsys):
    assert main(["serve", "--rollout"]) == 2
    assert "--rollout needs an experiment" in capsys.readouterr().err


def test_local_controller_takes_the_only_non_control_arm():
    arms = [{"name": "control", "weight": 0.9}, {"name": "canary", "weight": 0.1}]
    cfg = AppConfig.from_dict({"experiment": {"id": "e", "salt": "s", "arms": arms}})
    ctl = local_controller(cfg, "http://127.0.0.1:1", RolloutPolicy(min_served_per_step=5))
    assert (ctl.experiment_id, ctl.control, ctl.canary, ctl.policy.min_served_per_step) == ("e", "control", "canary", 5)
    three = AppConfig.from_dict({"experiment": {"id": "e", "salt": "s", "arms": arms[:1] + [
        {"name": "a", "weight": 0.05}, {"name": "b", "weight": 0.05}]}})
    with pytest.raises(ValueError, match="needs exactly one"):
        local_controller(three, "http://127.0.0.1:1")
