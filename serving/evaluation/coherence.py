"""Coherence beyond CPCD: how many of a playlist's top tracks are off the asked-for genre.

The yardstick is an EVALUATION-ONLY, hand-labelled table (artist -> genre families,
`data/artist_families.csv`, see `data/README.md`) and a set of listener prompts, each
with the families a listener would accept (`data/coherence_prompts.jsonl`). Nothing on
the serving path may read either file (a unit test checks it): the product learns
genres from data through the enrichment pipeline, and this table only grades it.

off-genre rate@20 = among the top-20 tracks whose lead artist is labelled, the share
whose families share nothing with the prompt's accepted families (an artist the prompt
excludes, "like X but not X", counts as off). Unlabelled artists are not counted;
coverage says how many were. Karaoke / "originally performed by" versions are reported
on their own (karaoke@20): they are off-intent whatever their genre.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

DATA = "data"
LABELS_FILE = "artist_families.csv"
PROMPTS_FILE = "coherence_prompts.jsonl"
HELDOUT_FILE = "coherence_prompts_heldout.jsonl"  # written before any answer was seen; failures read in session 3
FRESH_FILE = "coherence_prompts_fresh.jsonl"  # session 4's held-out set: measured once per adopted change
# Session 10's held-out set, written by someone who never saw the system: measured clean once, then read.
FRESH2_FILE = "coherence_prompts_fresh2.jsonl"
FRESH3_FILE = "coherence_prompts_fresh3.jsonl"
FRESH4_FILE = "coherence_prompts_fresh4.jsonl"
FRESH5_FILE = "coherence_prompts_fresh5.jsonl"
FRESH6_FILE = "coherence_prompts_fresh6.jsonl"  # session 12, written the same way; committed unread
FRESH7_FILE = "coherence_prompts_fresh7.jsonl"  # session 12, a second one; committed unread
# Session 13's development set (22 activity, 18 language, 10 genre prompts), written the same way and READ.
FRESH8_FILE = "coherence_prompts_fresh8.jsonl"
FRESH9_FILE = "coherence_prompts_fresh9.jsonl"  # session 13, written the same way as fresh6/7; committed unread
FRESH10_FILE = "coherence_prompts_fresh10.jsonl"  # session 13's second development set (30 similar-artist prompts), READ
FRESH11_FILE = "coherence_prompts_fresh11.jsonl"  # session 14, written the same way as fresh6/7/9; committed unread
# Session 17's development set (20 activity, 18 language, 6 genre, 6 similar-artist prompts), written the same way and READ.
FRESH12_FILE = "coherence_prompts_fresh12.jsonl"
FRESH13_FILE = "coherence_prompts_fresh13.jsonl"  # session 17, written the same way as fresh6/7/9/11; committed unread
# Session 20's development set (24 genre, 16 similar-artist, 10 era prompts), written the same way and READ.
FRESH14_FILE = "coherence_prompts_fresh14.jsonl"
FRESH15_FILE = "coherence_prompts_fresh15.jsonl"  # session 20, written the same way as fresh6/7/9/11/13; committed unread
SET_FILES = {"dev": PROMPTS_FILE, "heldout": HELDOUT_FILE, "fresh": FRESH_FILE, "fresh2": FRESH2_FILE,
             "fresh3": FRESH3_FILE, "fresh4": FRESH4_FILE, "fresh5": FRESH5_FILE, "fresh6": FRESH6_FILE,
             "fresh7": FRESH7_FILE, "fresh8": FRESH8_FILE, "fresh9": FRESH9_FILE, "fresh10": FRESH10_FILE,
             "fresh11": FRESH11_FILE, "fresh12": FRESH12_FILE,
             "fresh13": FRESH13_FILE, "fresh14": FRESH14_FILE,
             "fresh15": FRESH15_FILE}
COHERENCE_SETS = {**{name: (name,) for name in SET_FILES}, "all": tuple(SET_FILES)}
_KARAOKE = re.compile(r"karaoke|originally performed|made popular by|in the style of|tribute to|backing track", re.I)


def label_key(s: str) -> str:
    """How the hand table and the prompts spell an artist (their own normalisation, not the product's)."""
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s&]", " ", s.lower())).strip()


def _data_path(name: str) -> Path:
    return Path(str(resources.files("serving.evaluation") / DATA / name))


@dataclass(frozen=True)
class CoherencePrompt:
    id: str
    kind: str  # genre | era | similar | language | activity
    prompt: str
    families: frozenset[str]
    not_artists: frozenset[str] = frozenset()  # normalised


def set_file(name: str) -> Path:
    return _data_path(SET_FILES[name])


def load_labels(path: str | Path | None = None) -> dict[str, frozenset[str]]:
    p = Path(path) if path else _data_path(LABELS_FILE)
    with p.open(encoding="utf-8", newline="") as f:
        return {label_key(r["artist"]): frozenset(x.strip() for x in r["families"].split("|") if x.strip())
                for r in csv.DictReader(f)}


def load_prompts(path: str | Path | None = None) -> list[CoherencePrompt]:
    p = Path(path) if path else _data_path(PROMPTS_FILE)
    out = []
    for line in p.read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            out.append(CoherencePrompt(d["id"], d["kind"], d["prompt"], frozenset(d["families"]),
                                       frozenset(label_key(a) for a in d.get("not_artists", []))))
    return out


@dataclass
class PromptScore:
    id: str
    kind: str
    prompt: str
    shown: int
    labelled: int
    off: int
    karaoke: int
    off_examples: list[str] = field(default_factory=list)
    liked: int = 0  # session coherence: the likes before this playlist
    # The most top-k tracks by one lead artist. Off-genre cannot see a "like X" playlist that is all X
    # (X fits its own genre); this can.
    one_artist: int = 0

    @property
    def off_rate(self) -> float | None:
        return self.off / self.labelled if self.labelled else None


SESSION_LIKES = 3  # what CPCD's protocol hands a session per turn: the first 3 liked tracks


def fits(p: CoherencePrompt, t, labels: dict[str, frozenset[str]]) -> bool | None:
    """Whether the track fits the prompt by the hand labels: its lead artist's families meet the
    prompt's and no artist of it is excluded; None when the lead artist is unlabelled (and not excluded)."""
    if any(label_key(a) in p.not_artists for a in t.artists):
        return False
    fams = labels.get(label_key(t.artists[0])) if t.artists else None
    return None if fams is None else bool(fams & p.families)


def session_likes(p: CoherencePrompt, tracks: list, labels: dict[str, frozenset[str]]) -> list[str]:
    """A simulated listener's likes on a first playlist: the first SESSION_LIKES tracks that fit by
    the hand labels (evaluation only: the listener is part of the harness, not of the product)."""
    return [t.track_id for t in tracks if fits(p, t, labels)][:SESSION_LIKES]


def score_playlist(p: CoherencePrompt, tracks: list, labels: dict[str, frozenset[str]], k: int = 20,
                   liked: int = 0) -> PromptScore:
    """`tracks`: objects with `title`, `artists` and `album` (RankedTrack or Track), in served order;
    `liked`: how many likes led to them (session coherence)."""
    top = tracks[:k]
    labelled = off = karaoke = 0
    examples = []
    for t in top:
        text = f"{t.title} {t.album or ''} {' '.join(t.artists)}"
        if _KARAOKE.search(text):
            karaoke += 1
        verdict = fits(p, t, labels)
        if verdict is None:
            continue
        labelled += 1
        if not verdict:
            off += 1
            examples.append(f"{t.title} - {t.artists[0]}")
    leads = Counter(label_key(t.artists[0]) for t in top if t.artists)
    return PromptScore(p.id, p.kind, p.prompt, len(top), labelled, off, karaoke, examples, liked,
                       max(leads.values(), default=0))


@dataclass
class CoherenceResult:
    name: str
    rows: list[PromptScore]

    def summary(self) -> dict[str, float]:
        lab = sum(r.labelled for r in self.rows)
        shown = sum(r.shown for r in self.rows)
        rates = [r.off_rate for r in self.rows if r.off_rate is not None]
        out = {
            "off_genre@20": round(sum(r.off for r in self.rows) / lab, 4) if lab else 0.0,
            "off_genre@20_macro": round(sum(rates) / len(rates), 4) if rates else 0.0,
            "karaoke@20": round(sum(r.karaoke for r in self.rows) / shown, 4) if shown else 0.0,
            "coverage": round(lab / shown, 4) if shown else 0.0,
            # Mean share of a playlist's top tracks held by its most frequent artist.
            "one_artist@20": round(sum(r.one_artist / r.shown for r in self.rows if r.shown) / len(self.rows), 4)
            if self.rows else 0.0,
            # Playlists under 20 tracks: a short playlist has fewer chances to be off ("like X" ends with
            # X's neighbours, filters.LIKE_HEAD_ONLY), so off-genre is read beside it.
            "short@20": round(sum(r.shown < 20 for r in self.rows) / len(self.rows), 4) if self.rows else 0.0,
            "prompts": len(self.rows),
        }
        if lab:
            # Tracks of one playlist share one parse and one consensus: the prompt is the unit that was
            # sampled, so the interval resamples prompts (a 0.01 move on 50 prompts is usually noise).
            lo, hi = off_rate_ci(self.rows)
            out["off_genre@20_low"], out["off_genre@20_high"] = round(lo, 4), round(hi, 4)
        if any(r.liked for r in self.rows):
            out["prompts_with_likes"] = sum(1 for r in self.rows if r.liked)
        for kind in sorted({r.kind for r in self.rows}):
            rs = [r for r in self.rows if r.kind == kind]
            lk = sum(r.labelled for r in rs)
            out[f"off_genre@20[{kind}]"] = round(sum(r.off for r in rs) / lk, 4) if lk else 0.0
        return out


BOOT = 2000


def _counts(rows: list[PromptScore]) -> tuple[np.ndarray, np.ndarray]:
    """(off, labelled) per prompt."""
    return (np.array([r.off for r in rows], dtype=np.float64), np.array([r.labelled for r in rows], dtype=np.float64))


def _pooled(off: np.ndarray, lab: np.ndarray) -> np.ndarray:
    """Off over labelled summed along the last axis (0 where nothing is labelled)."""
    o, n = off.sum(axis=-1), lab.sum(axis=-1)
    return np.divide(o, n, out=np.zeros_like(o), where=n > 0)


def off_rate_ci(rows: list[PromptScore], n_boot: int = BOOT, alpha: float = 0.05, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of off-genre@20 (off over labelled, pooled) resampling prompts."""
    off, lab = _counts(rows)
    idx = np.random.default_rng(seed).integers(0, len(rows), size=(n_boot, len(rows)))
    lo, hi = np.quantile(_pooled(off[idx], lab[idx]), [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def paired_off_diff(a: list[PromptScore], b: list[PromptScore], n_boot: int = BOOT, alpha: float = 0.05,
                    seed: int = 0) -> tuple[float, float, float]:
    """(b - a, low, high): the difference in off-genre@20 between two runs over the same prompts, with a
    percentile interval from resampling prompts (both runs take the same resample)."""
    if [r.id for r in a] != [r.id for r in b]:
        raise ValueError("paired_off_diff needs the same prompts in the same order")
    (oa, la), (ob, lb) = _counts(a), _counts(b)
    idx = np.random.default_rng(seed).integers(0, len(a), size=(n_boot, len(a)))
    diffs = _pooled(ob[idx], lb[idx]) - _pooled(oa[idx], la[idx])
    lo, hi = np.quantile(diffs, [alpha / 2, 1 - alpha / 2])
    return float(_pooled(ob, lb) - _pooled(oa, la)), float(lo), float(hi)


def markdown(results: list[CoherenceResult], per_prompt: bool = True) -> str:
    if not results:
        return ""
    kinds = sorted({r.kind for r in results[0].rows})
    lines = ["## Coherence (off-genre rate@20, evaluation-only artist labels)", "",
             "Micro-average over labelled top-20 tracks; lower is better. karaoke@20 = share of karaoke / "
             "'originally performed by' versions among all top-20 tracks. one artist@20 = mean share of a "
             "playlist held by its most frequent artist (a 'like X' playlist that is all X fits X's genre). "
             "short = share of prompts answered with fewer than 20 tracks.", "",
             "[low, high]: 95% percentile bootstrap over prompts; vs first: the paired difference from the first "
             "row, with its interval (* when it excludes 0).", "",
             "| variant | off-genre@20 [95% CI] | vs first | macro | " + " | ".join(kinds)
             + " | karaoke@20 | one artist@20 | short | coverage |",
             "|" + "---|" * (len(kinds) + 8)]
    for r in results:
        s = r.summary()
        ci = f" [{s['off_genre@20_low']:.3f}, {s['off_genre@20_high']:.3f}]" if "off_genre@20_low" in s else ""
        vs = "" if r is results[0] else _diff_cell(results[0].rows, r.rows)
        lines.append(f"| {r.name} | {s['off_genre@20']:.3f}{ci} | {vs} | {s['off_genre@20_macro']:.3f} | "
                     + " | ".join(f"{s[f'off_genre@20[{k}]']:.3f}" for k in kinds)
                     + f" | {s['karaoke@20']:.3f} | {s['one_artist@20']:.3f} | {s['short@20']:.2f} | {s['coverage']:.2f} |")
    if per_prompt:
        lines += ["", "Per prompt (off / labelled of 20; examples of off-genre tracks):", "",
                  "| prompt | " + " | ".join(r.name for r in results) + " |", "|" + "---|" * (len(results) + 1)]
        for i, row in enumerate(results[0].rows):
            cells = []
            for r in results:
                x = r.rows[i]
                ex = "; ".join(x.off_examples[:2]).replace("|", "/")
                cells.append(f"{x.off}/{x.labelled}" + (f" ({ex})" if ex else ""))
            lines.append(f"| {row.prompt} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _diff_cell(a: list[PromptScore], b: list[PromptScore]) -> str:
    try:
        d, lo, hi = paired_off_diff(a, b)
    except ValueError:  # not the same prompts: nothing to pair
        return "n/a"
    return f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]" + ("*" if lo > 0 or hi < 0 else "")
