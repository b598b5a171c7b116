"""The intent's hard filters (excluded artists and terms, era), applied wherever a track may
enter a playlist: retrieval, and the ranker's borrowed candidates."""

from __future__ import annotations

import re

from serving.intent.model import Intent
from serving.schemas import Track
from serving.text import norm


def passes_filters(intent: Intent, t: Track) -> bool:
    if intent.exclude_artists:
        artists = {norm(a) for a in t.artists}
        if any(norm(x) in artists for x in intent.exclude_artists):
            return False
    if intent.exclude_terms:
        text = norm(f"{t.title} {t.album or ''} {' '.join(t.tags)}")
        if any(re.search(rf"\b{re.escape(norm(x))}", text) for x in intent.exclude_terms if norm(x)):
            return False
    if intent.era and t.year is not None:  # unknown years pass: the catalog may not know them
        if not intent.era.start <= t.year <= intent.era.end:
            return False
    return True
