"""CPCD-format dialogs -> evaluation cases: first user turn as prompt, de-duplicated gold.

Gold is the dialog's `goal_playlist`, de-duplicated by recording: the catalog's
`cluster_id` where known, else normalised (title, first artist) -- the same
`recording_key` the ranker uses to de-duplicate playlists, so a system is never
credited twice for two uploads of one song.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from serving.catalog.loader import Catalog
from serving.ranking.diversity import recording_key
from serving.schemas import Track


class DialogsError(ValueError):
    """The dialogs file is missing or malformed; the message names the line and field."""


@dataclass(frozen=True)
class EvalDialog:
    id: str
    prompt: str
    gold_ids: tuple[str, ...]  # goal_playlist as given (may hold several copies of a recording)
    gold_keys: frozenset[str]  # recordings: what the metrics count
    raw: dict = field(repr=False, compare=False, default_factory=dict)


def _dialog_track(track_id: str, meta: dict) -> Track | None:
    """A Track from a dialog's own `tracks` metadata, for gold that the catalog lacks."""
    m = meta.get(track_id)
    if not isinstance(m, dict) or not m.get("track_titles"):
        return None
    artists = m.get("track_artists") or ["?"]
    return Track(track_id=track_id, title=str(m["track_titles"]), artists=[str(a) for a in artists],
                 album=m.get("track_release_titles"), cluster_id=m.get("cluster_id"))


def load_dialogs(path: str | Path, catalog: Catalog) -> tuple[list[EvalDialog], int]:
    """Returns (cases, skipped): dialogs with an empty goal playlist or no user turn are skipped."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DialogsError(f"dialogs file {p} does not exist; pass a CPCD-format JSONL such as dialogs.train.jsonl")
    by_id = {t.track_id: t for t in catalog.tracks}
    out: list[EvalDialog] = []
    skipped = 0
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            raise DialogsError(f"{p} line {n}: not valid JSON ({e.msg})") from e
        if not isinstance(d, dict) or "turns" not in d or "goal_playlist" not in d:
            raise DialogsError(f"{p} line {n}: expected an object with 'turns' and 'goal_playlist' (CPCD format)")
        turns = d["turns"] or []
        prompt = (turns[0].get("user_query") or "").strip() if turns else ""
        goal = [g for g in d["goal_playlist"] or [] if isinstance(g, str)]
        if not goal or not prompt:
            skipped += 1
            continue
        meta = d.get("tracks") or {}
        keys = set()
        for g in goal:
            t = by_id.get(g) or _dialog_track(g, meta)
            keys.add(recording_key(t) if t is not None else f"id:{g}")
        out.append(EvalDialog(id=str(d.get("id", f"line-{n}")), prompt=prompt, gold_ids=tuple(goal),
                              gold_keys=frozenset(keys), raw=d))
    if not out:
        raise DialogsError(f"{p}: no dialog with a first user turn and a non-empty goal_playlist")
    return out, skipped


def track_keys(catalog: Catalog) -> dict[str, str]:
    """track_id -> recording key, for turning a ranked list of ids into recordings."""
    return {t.track_id: recording_key(t) for t in catalog.tracks}
