"""The note a playlist carries when it is shorter than asked: a short playlist says why, so that
a listener (or a client showing it) can tell "nothing more fits" from a fault.

Pure: the pipeline and the session service call it with what they served.
"""

from __future__ import annotations

from serving.intent.model import Intent
from serving.text import norm


def shortfall_note(intent: Intent, asked: int, got: int) -> str | None:
    """None when `got` tracks fill the `asked` length; otherwise one sentence on why not and what
    to ask instead. A "like X" playlist keeps its artist cap and holds only X and the artists known
    to be like X (`filters.holds_head_only`), so it ends where their tracks do."""
    if got >= asked:
        return None
    head = f"{got} of {asked} tracks" if got else "No tracks"
    if intent.similar_artists:
        names = " and ".join(intent.similar_artists)
        excluded = {norm(a) for a in intent.exclude_artists}
        own = "" if all(norm(a) in excluded for a in intent.similar_artists) else f"{names} (a few) and by "
        return (f"{head}: a playlist like {names} holds only tracks by {own}artists known to be like "
                f"{names}; no more of those fit this request. Name a genre or more artists for a longer one.")
    return f"{head}: no more tracks in the catalog fit this request. Ask for less, or more broadly, for a longer one."
