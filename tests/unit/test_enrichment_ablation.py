"""The ablation tool knows how to switch off every signal it lists (a listed signal it cannot switch
off would stop `--signal all` half-way)."""

import importlib

import pytest

from serving.tools import enrichment_ablation as ablation

CONSTANTS = ("catalog.enrichment.artifact", "catalog.enrichment.builder", "retrieval.filters",
             "intent.spelling", "intent.taxonomy", "catalog.enrichment.propagate", "intent.similar", "intent.fallback",
             "ranking.diversity", "ranking.feedback")


@pytest.fixture
def restore():
    mods = [importlib.import_module(f"serving.{m}") for m in CONSTANTS]
    saved = [dict(vars(m)) for m in mods]
    yield
    for m, old in zip(mods, saved):
        for k in set(vars(m)) - set(old):
            delattr(m, k)
        for k, v in old.items():
            setattr(m, k, v)


@pytest.mark.parametrize("signal", [s for s in ablation.SIGNALS if s != "none"])
def test_every_listed_signal_can_be_switched_off(signal, restore):
    ablation._switch_off(signal)


def test_an_unknown_signal_is_refused_by_name():
    with pytest.raises(SystemExit, match="unknown signal 'bogus'"):
        ablation._switch_off("bogus")
