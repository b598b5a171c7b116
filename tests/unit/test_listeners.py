"""Simulated listeners: reactions follow the goal playlist, and a run moves an experiment."""

import asyncio
import json
import random

import httpx

from serving.tools.listeners import Listener, load_listeners, reactions, run
from tests.unit.console_app import console_api


def test_reactions_like_the_goal_and_skip_the_first_miss():
    who = Listener("jazz", frozenset({"b", "d"}))
    assert reactions(who, ["a", "b", "c", "d"], random.Random(0), 0.5) == [("a", "skip"), ("b", "like"), ("d", "like")]
    anyone = Listener("jazz")
    got = reactions(anyone, [f"t{i}" for i in range(10)], random.Random(1), 1.0)
    assert [t for t, e in got if e == "like"] == [f"t{i}" for i in range(5)] and got[-1] == ("t5", "skip")


def test_dialogs_file_gives_goal_listeners(tmp_path):
    f = tmp_path / "d.jsonl"
    f.write_text(json.dumps({"turns": [{"user_query": "sad songs"}], "goal_playlist": ["x"]}) + "\n"
                 + json.dumps({"turns": [{"user_query": "no goal"}]}) + "\n")
    assert load_listeners(f) == [Listener("sad songs", frozenset({"x"}))]
    assert load_listeners(None)[0].goal == frozenset()


def test_a_run_moves_the_experiment():
    api, core = console_api()
    # t0..t3 are what the fake stages return: listeners whose goal holds t1 like it
    listeners = [Listener("jazz", frozenset({"t1"})), Listener("rock")]
    tally = asyncio.run(run("http://segue", listeners, 30, 3, 0.0, seed=3, length=4,
                            transport=httpx.ASGITransport(app=api)))
    assert tally.served == 30 and tally.failed == 0 and tally.feedback_failed == 0
    summary = asyncio.run(core.experiment_summary("ui-exp"))
    assert sum(a["served"] for a in summary["arms"].values()) == 30
    assert sum(a["events"]["like"] for a in summary["arms"].values()) > 0
    assert sum(tally.arms.values()) == 30
