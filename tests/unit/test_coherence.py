"""The coherence yardstick: scoring by hand, and the rule that the product never reads its labels."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from serving.evaluation.coherence import (
    SESSION_LIKES, CoherencePrompt, CoherenceResult, load_labels, load_prompts, markdown, score_playlist,
    session_likes,
)
from serving.schemas import Track

ROOT = Path(__file__).resolve().parents[2]


def _t(title, artist, album=None):
    return Track(track_id=title, title=title, artists=[artist], album=album)


def test_packaged_set_is_big_enough():
    labels, prompts = load_labels(), load_prompts()
    assert len(labels) >= 200 and len(prompts) >= 60
    assert {p.kind for p in prompts} == {"genre", "era", "similar", "language", "activity"}
    assert labels["metallica"] == {"metal"}


def test_score_counts_only_labelled_and_flags_excluded_artist():
    labels = {"metallica": frozenset({"metal"}), "whitney houston": frozenset({"pop", "r&b"}),
              "radiohead": frozenset({"rock"})}
    p = CoherencePrompt("x", "genre", "metal", frozenset({"metal"}), frozenset({"radiohead"}))
    tracks = [_t("One", "Metallica"), _t("I Will Always Love You", "Whitney Houston"), _t("Creep", "Radiohead"),
              _t("Unknown", "Nobody Knows"), _t("Enter Sandman (Karaoke Version)", "Party Tyme Karaoke")]
    s = score_playlist(p, tracks, labels)
    assert (s.shown, s.labelled, s.off, s.karaoke) == (5, 3, 2, 1)
    assert s.off_rate == pytest.approx(2 / 3)
    summary = CoherenceResult("v", [s]).summary()
    assert summary["off_genre@20"] == pytest.approx(0.6667, abs=1e-4) and summary["coverage"] == 0.6


def test_one_artist_share_sees_a_playlist_that_is_all_one_artist():
    labels = {"metallica": frozenset({"metal"}), "slayer": frozenset({"metal"})}
    p = CoherencePrompt("x", "similar", "songs like Metallica", frozenset({"metal"}))
    all_x = score_playlist(p, [_t(f"Song {i}", "Metallica") for i in range(4)], labels)
    mixed = score_playlist(p, [_t("One", "Metallica"), _t("Two", "Metallica"), _t("Angel", "Slayer"),
                               _t("Raining Blood", "Slayer")], labels)
    assert all_x.off == mixed.off == 0  # off-genre cannot tell them apart
    assert CoherenceResult("v", [all_x]).summary()["one_artist@20"] == 1.0
    assert CoherenceResult("v", [all_x, mixed]).summary()["one_artist@20"] == 0.75
    assert "one artist@20" in markdown([CoherenceResult("v", [all_x, mixed])])


def test_short_playlists_are_counted_beside_the_off_rate():
    # A playlist that ends early has fewer chances to be off: the report says how many did.
    labels = {"metallica": frozenset({"metal"})}
    p = CoherencePrompt("x", "similar", "songs like Metallica", frozenset({"metal"}))
    short = score_playlist(p, [_t(f"Song {i}", "Metallica") for i in range(4)], labels)
    full = score_playlist(p, [_t(f"Song {i}", "Metallica") for i in range(20)], labels)
    assert CoherenceResult("v", [short, full]).summary()["short@20"] == 0.5
    assert CoherenceResult("v", [full]).summary()["short@20"] == 0.0
    assert "| short |" in markdown([CoherenceResult("v", [short, full])])


def _rows(offs, labelled=10):
    from serving.evaluation.coherence import PromptScore

    return [PromptScore(f"p{i}", "genre", f"prompt {i}", 20, labelled, o, 0) for i, o in enumerate(offs)]


def test_the_off_genre_interval_resamples_prompts_and_pairs_two_runs():
    from serving.evaluation.coherence import off_rate_ci, paired_off_diff

    same = _rows([1] * 40)
    assert off_rate_ci(same) == pytest.approx((0.1, 0.1))  # every prompt alike: no spread
    spread = _rows([0] * 20 + [4] * 20)
    lo, hi = off_rate_ci(spread)
    assert lo < 0.2 < hi and hi - lo > 0.05
    s = CoherenceResult("v", spread).summary()
    assert s["off_genre@20_low"] < s["off_genre@20"] < s["off_genre@20_high"]
    # One prompt moving by 10 of 400 labelled tracks is no evidence; every prompt moving by one is.
    d, lo, hi = paired_off_diff(spread, _rows([0] * 20 + [4] * 19 + [10]))
    assert d == pytest.approx(6 / 400) and lo <= 0 <= hi
    d, lo, hi = paired_off_diff(spread, _rows([1] * 20 + [5] * 20))
    assert d == pytest.approx(0.1) and lo > 0
    with pytest.raises(ValueError):
        paired_off_diff(spread, spread[1:])
    table = markdown([CoherenceResult("a", spread), CoherenceResult("b", _rows([1] * 20 + [5] * 20))], per_prompt=False)
    assert "+0.100 [" in table and "]*" in table


def test_the_simulated_listener_likes_the_first_fitting_tracks_only():
    labels = {"metallica": frozenset({"metal"}), "slayer": frozenset({"metal"}), "radiohead": frozenset({"rock"}),
              "whitney houston": frozenset({"pop"})}
    p = CoherencePrompt("x", "genre", "metal", frozenset({"metal"}), frozenset({"slayer"}))
    tracks = [_t("Greatest Love", "Whitney Houston"), _t("One", "Metallica"), _t("Raining Blood", "Slayer"),
              _t("Unknown", "Nobody Knows"), _t("Battery", "Metallica"), _t("Fuel", "Metallica"),
              _t("Creep", "Radiohead"), _t("Sad But True", "Metallica")]
    assert session_likes(p, tracks, labels) == ["One", "Battery", "Fuel"][:SESSION_LIKES]
    assert session_likes(p, tracks[:1], labels) == []
    rows = [score_playlist(p, tracks[6:], labels, liked=3), score_playlist(p, tracks[:1], labels)]
    s = CoherenceResult("v", rows).summary()
    assert s["prompts_with_likes"] == 1 and s["off_genre@20"] == pytest.approx(2 / 3, abs=1e-4)
    assert "prompts_with_likes" not in CoherenceResult("v", rows[1:]).summary()


def _runtime_modules():
    """Every serving module outside the evaluation tooling and the CLI that drives it."""
    for p in sorted((ROOT / "serving").rglob("*.py")):
        rel = p.relative_to(ROOT / "serving").parts
        if rel[0] in ("evaluation", "tools") or rel == ("cli.py",):
            continue
        yield p


def test_no_runtime_module_imports_or_opens_the_labels():
    for p in _runtime_modules():
        src = p.read_text()
        assert "artist_families" not in src and "coherence_prompts" not in src, p
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("serving.evaluation"), f"{p} imports {node.module}"
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("serving.evaluation") for a in node.names), p


def test_building_the_app_does_not_load_the_coherence_module():
    code = ("import sys, serving.app, serving.pipeline, serving.server; "
            "bad=[m for m in sys.modules if m.startswith('serving.evaluation')]; print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("name,size,earlier", [("heldout", 30, ()), ("fresh", 40, ("heldout",)),
                                               ("fresh2", 40, ("heldout", "fresh")),
                                               ("fresh3", 40, ("heldout", "fresh", "fresh2")),
                                               ("fresh4", 40, ("heldout", "fresh", "fresh2", "fresh3")),
                                               ("fresh5", 40, ("heldout", "fresh", "fresh2", "fresh3", "fresh4")),
                                               ("fresh6", 40, ("heldout", "fresh", "fresh2", "fresh3", "fresh4",
                                                               "fresh5")),
                                               ("fresh7", 40, ("heldout", "fresh", "fresh2", "fresh3", "fresh4",
                                                               "fresh5", "fresh6")),
                                               ("fresh8", 40, ("heldout", "fresh", "fresh2", "fresh3", "fresh4",
                                                               "fresh5", "fresh6", "fresh7")),
                                               ("fresh9", 40, ("heldout", "fresh", "fresh2", "fresh3", "fresh4",
                                                               "fresh5", "fresh6", "fresh7", "fresh8")),
                                               ("fresh10", 40, ("heldout", "fresh", "fresh2", "fresh3", "fresh4",
                                                                "fresh5", "fresh6", "fresh7", "fresh8", "fresh9")),
                                               ("fresh11", 40, ("heldout", "fresh", "fresh2", "fresh3", "fresh4",
                                                                "fresh5", "fresh6", "fresh7", "fresh8", "fresh9",
                                                                "fresh10")),
                                               ("fresh12", 40, ("heldout", "fresh", "fresh2", "fresh3", "fresh4",
                                                                "fresh5", "fresh6", "fresh7", "fresh8", "fresh9",
                                                                "fresh10", "fresh11")),
                                               ("fresh13", 40, ("heldout", "fresh", "fresh2", "fresh3", "fresh4",
                                                                "fresh5", "fresh6", "fresh7", "fresh8", "fresh9",
                                                                "fresh10", "fresh11", "fresh12"))])
def test_heldout_set_is_separate_and_covers_every_kind(name, size, earlier):
    from serving.evaluation.coherence import set_file

    dev = load_prompts() + [p for e in earlier for p in load_prompts(set_file(e))]
    held = load_prompts(set_file(name))
    assert len(held) >= size
    # fresh8, fresh10 (session 13) and fresh12 (session 17) were written for the weakest kinds, with a few others.
    kinds = {"fresh8": {"genre", "language", "activity"}, "fresh10": {"genre", "era", "similar"},
             "fresh12": {"genre", "language", "activity", "similar"}}.get(
        name, {"genre", "era", "similar", "language", "activity"})
    assert {p.kind for p in held} == kinds
    assert not {p.id for p in dev} & {p.id for p in held}
    assert not {p.prompt.lower() for p in dev} & {p.prompt.lower() for p in held}
    families = {f for fams in load_labels().values() for f in fams}
    assert all(p.families <= families for p in held), "a held-out prompt accepts a family no artist has"
