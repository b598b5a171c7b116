from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from serving.experiments.assignment import Assigner, unit_hash
from serving.experiments.statistics import srm_test

keys = st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=200, unique=True)
weight_lists = st.lists(st.integers(min_value=0, max_value=100), min_size=2, max_size=12).filter(lambda w: sum(w) > 0)


def assigner(weights, salt="s"):
    total = sum(weights)
    return Assigner.from_weights(salt, [(f"arm{i}", w / total) for i, w in enumerate(weights)])


def test_hash_is_stable_and_salted():
    assert unit_hash("s", "u1") == unit_hash("s", "u1")  # no process-randomised hash()
    assert unit_hash("s", "u1") != unit_hash("t", "u1")
    assert 0.0 <= unit_hash("s", "u1") < 1.0


@given(weight_lists, keys)
def test_every_key_gets_exactly_one_arm_and_zero_weight_arms_get_nobody(weights, ks):
    a = assigner(weights)
    for k in ks:
        arm = a.assign(k)
        assert weights[int(arm[3:])] > 0
        assert a.assign(k) == arm  # sticky


@given(st.floats(0.0, 0.99), st.floats(0.0, 1.0), keys)
def test_raising_the_canary_moves_only_control_listeners_into_canary(w1, bump, ks):
    w2 = w1 + (1 - w1) * bump
    before = Assigner.from_weights("s", [("control", 1 - w1), ("canary", w1)])
    after = Assigner.from_weights("s", [("control", 1 - w2), ("canary", w2)])
    for k in ks:
        if before.assign(k) == "canary":
            assert after.assign(k) == "canary"


@given(weight_lists, st.data())
@settings(max_examples=100)
def test_moving_weight_between_adjacent_arms_leaves_every_other_arm_alone(weights, data):
    i = data.draw(st.integers(0, len(weights) - 2))
    moved = data.draw(st.integers(0, weights[i]))
    new = list(weights)
    new[i] -= moved
    new[i + 1] += moved
    a, b = assigner(weights), assigner(new)
    for k in (f"user-{n}" for n in range(300)):
        x, y = a.assign(k), b.assign(k)
        if x != y:
            assert (x, y) == (f"arm{i}", f"arm{i + 1}")


def test_many_users_split_within_weights():
    a = Assigner.from_weights("exp-7", [("control", 0.7), ("b", 0.2), ("c", 0.1)])
    counts = Counter(a.assign(f"user-{n}") for n in range(20_000))
    assert not srm_test(counts, {"control": 0.7, "b": 0.2, "c": 0.1}).mismatch
