"""Playlist ids that carry their issue time (ms, hex) ahead of 80 random bits.

Feedback may overtake the record of its playlist (recording is off the live path),
so the OutcomeStore waits briefly for an unknown id; the timestamp lets it wait only
for ids issued moments ago, so a stale or made-up id is answered at once.
"""

from __future__ import annotations

import re
import secrets
import time

_ID = re.compile(r"^[0-9a-f]{12}[0-9a-f]{20}$")


def new_playlist_id(now: float | None = None) -> str:
    ms = int((time.time() if now is None else now) * 1000)
    return f"{ms:012x}{secrets.token_hex(10)}"


def issued_at(playlist_id: str) -> float | None:
    """Seconds since the epoch when the id was issued; None if it is not one of ours."""
    if not _ID.match(playlist_id):
        return None
    return int(playlist_id[:12], 16) / 1000


def is_fresh(playlist_id: str, within_s: float, now: float | None = None) -> bool:
    t = issued_at(playlist_id)
    now = time.time() if now is None else now
    return t is not None and -1.0 <= now - t <= within_s
