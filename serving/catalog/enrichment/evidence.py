"""Evidence from curation dialogs (CPCD format): which requests an artist's tracks were kept,
disliked or searched for.

A dialog turn's own words, parsed by the product's fast parser (keywords only, so the
evidence does not depend on an embedding model), give labels: taxonomy genre / mood /
activity names and the decade asked for. Every track the listener kept in that turn (or in a
dialog whose first request carried the label) gets a vote for the label; a disliked track a
negative one; the wizard's own search queries vote, weakly, for what they returned.

Rows are plain tuples so the same code runs in-process and inside Ray Data tasks.
"""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from serving.intent.chatter import is_chatter
from serving.intent.taxonomy import keyword_tags

# Weights per source: what the listener kept is the strongest evidence.
W_KEPT_TURN = 1.0  # kept in a turn whose own words carry the label
W_KEPT_REQUEST = 0.7  # kept anywhere in a dialog whose first request carries the label
W_DISLIKED = -0.5  # disliked in a turn/dialog carrying the label
W_SEARCH = 0.15  # returned by a wizard search whose query carries the label

EvidenceRow = tuple[str, str, float, str, str]  # (track_id, label, weight, source, note)


_ARTISTS: tuple[str, ...] = ()


def set_artists(names) -> None:
    """Catalog artist names, so that request words naming an artist ("Daft Punk") are not read as
    genres ("punk"), as the product's parser does. Call before extracting (once per process)."""
    global _ARTISTS
    names = tuple(sorted(set(names)))
    if names != _ARTISTS:
        _ARTISTS = names
        _parser.cache_clear()
        text_labels.cache_clear()


@lru_cache(maxsize=1)
def _parser():
    from serving.intent.fallback import FastParser

    return FastParser(embedder=None, artists=list(_ARTISTS))


@lru_cache(maxsize=8192)
def text_labels(text: str) -> frozenset[str]:
    """Labels a request's words carry: 'genre:metal', 'mood:chill', 'activity:workout', 'decade:1990'.
    Filler ("I'd love to create a playlist") and exclusions ("no country") are stripped first, with
    the fast parser's own rules: "I'd love to" is not a request for love songs."""
    if is_chatter(text):  # "i love them!" praises a playlist; it asks for no romantic songs
        return frozenset()
    p = _parser()
    text = " ".join(text.split())
    low = p._search_text(text).lower()
    inc, exc, _ = p._artists_in(text, [])
    for a in inc + exc:
        low = low.replace(a.lower(), " ")
    # The parser's own keyword rules: the longest keyword owns its words ("work out" is not also "work").
    out = {f"{t.kind}:{t.name}" for t, _ in keyword_tags(low)}
    era = p._era(text.lower())
    if era is not None and era.end - era.start <= 20:
        out |= {f"decade:{d}" for d in range(era.start // 10 * 10, era.end + 1, 10)}
    return frozenset(out)


def dialog_evidence(d: dict) -> list[EvidenceRow]:
    turns = d.get("turns") or []
    if not turns:
        return []
    did = str(d.get("id", ""))
    first = text_labels(turns[0].get("user_query") or "")
    best: dict[tuple[str, str], EvidenceRow] = {}

    def vote(tid: str, label: str, w: float, source: str, note: str) -> None:
        key = (tid, label)
        old = best.get(key)
        # One dialog votes once per (track, label): its strongest reason, so a long dialog
        # cannot outvote many short ones.
        if old is None or abs(w) > abs(old[2]) or (w < 0 < old[2]):
            best[key] = (tid, label, w, source, note)

    for t in turns:
        own = text_labels(t.get("user_query") or "")
        for tid in t.get("liked_results") or ():
            for lab in own:
                vote(tid, lab, W_KEPT_TURN, "kept", did)
            for lab in first - own:
                vote(tid, lab, W_KEPT_REQUEST, "kept", did)
        for tid in t.get("disliked_results") or ():
            for lab in own | first:
                vote(tid, lab, W_DISLIKED, "disliked", did)
        for q, results in zip(t.get("search_queries") or (), t.get("search_results") or ()):
            labs = text_labels(q)
            for tid in (results or ())[:10]:
                for lab in labs:
                    if (tid, lab) not in best:
                        best[(tid, lab)] = (tid, lab, W_SEARCH, "search", q[:60])
    for tid in d.get("goal_playlist") or ():
        for lab in first:
            vote(tid, lab, W_KEPT_REQUEST, "kept", did)
    return list(best.values())


def cooccurrence(d: dict) -> list[str]:
    """Track ids the listener kept together in one dialog."""
    kept = list(d.get("goal_playlist") or ())
    for t in d.get("turns") or ():
        kept += t.get("liked_results") or ()
    return list(dict.fromkeys(kept))


def compact(d: dict, results_per_query: int = 10) -> dict:
    """The parts of a CPCD dialog the enrichment reads (what the package ships)."""
    return {
        "id": d.get("id"),
        "goal_playlist": d.get("goal_playlist") or [],
        "turns": [{"user_query": t.get("user_query") or "", "search_queries": t.get("search_queries") or [],
                   "search_results": [r[:results_per_query] for r in t.get("search_results") or []],
                   "liked_results": t.get("liked_results") or [], "disliked_results": t.get("disliked_results") or []}
                  for t in d.get("turns") or []],
    }


def shipped_dialogs_path() -> Path:
    from importlib import resources

    return Path(str(resources.files("serving.catalog") / "data" / "cpcd_dialog_evidence.jsonl.gz"))


def read_dialogs(path: str | Path | None = None) -> list[dict]:
    p = Path(path).expanduser() if path else shipped_dialogs_path()
    if not p.is_file():
        raise FileNotFoundError(f"enrichment dialogs {p} do not exist; give a CPCD-format JSONL (optionally .gz)")
    opener = gzip.open if p.suffix == ".gz" else open
    with opener(p, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_dialogs(dialogs: Iterable[dict], path: str | Path) -> Path:
    p = Path(path)
    with gzip.open(p, "wt", encoding="utf-8", compresslevel=9) as f:
        for d in dialogs:
            f.write(json.dumps(compact(d), separators=(",", ":")) + "\n")
    return p
