"""Which genre names a use or mood can mean: a taxonomy of names (uses x genres), never of artists.

"Music to fall asleep to" names no genre, yet no listener means metal by it. The evidence says which
genres each *artist* was kept for; this table says which genre *names* a use admits at all, the
general knowledge an LLM intent model brings to "sleep" or "party" ("calm music for studying" ->
ambient, classical, lo-fi, jazz). Written once from that general knowledge, per use, not from any
evaluation prompt. A use absent here ("driving", "work", "nostalgic") says nothing about genre:
listeners drive to anything.
"""

from __future__ import annotations

_CALM = frozenset({"ambient", "classical", "lofi", "soundtrack", "folk", "jazz"})
_LOUD = frozenset({"hip hop", "electronic", "house", "rock", "classic rock", "metal", "punk", "pop", "k-pop",
                   "latin", "afrobeats", "disco"})
_DANCE = frozenset({"pop", "k-pop", "hip hop", "r&b", "electronic", "house", "latin", "afrobeats", "disco",
                    "reggae"})

USE_GENRES: dict[str, frozenset[str]] = {
    "sleep": _CALM,
    "meditation": _CALM - {"jazz"},
    "study": _CALM - {"folk"} | {"electronic"},
    "chill": _CALM | {"indie", "r&b", "electronic", "reggae", "blues"},
    "workout": _LOUD,
    "energetic": _LOUD | {"reggae"},
    "angry": frozenset({"metal", "punk", "rock", "classic rock", "hip hop", "electronic"}),
    "party": _DANCE | {"rock", "classic rock", "oldies"},
    "happy": _DANCE | {"indie", "rock", "classic rock", "country", "folk", "oldies", "gospel"},
    "cooking": frozenset({"jazz", "r&b", "pop", "folk", "latin", "blues", "disco", "country", "indie", "oldies",
                          "reggae", "afrobeats", "classical"}),
    "romantic": frozenset({"r&b", "pop", "k-pop", "jazz", "folk", "country", "latin", "classical", "indie",
                           "blues", "oldies", "soundtrack"}),
    "sad": frozenset({"pop", "k-pop", "indie", "folk", "r&b", "country", "rock", "blues", "soundtrack",
                      "classical", "jazz", "hip hop", "ambient"}),
    "dark": frozenset({"metal", "rock", "punk", "electronic", "hip hop", "indie", "ambient", "soundtrack",
                       "classical"}),
}


def admitted_genres(uses) -> frozenset[str] | None:
    """The genre names every use that says something about genre admits (several uses narrow it:
    "calm music for studying" is what is both calm and for study), else the names any of them admits
    when they share none; None when no use says anything about genre."""
    sets = [USE_GENRES[u] for u in uses if u in USE_GENRES]
    if not sets:
        return None
    both = frozenset.intersection(*sets)
    return both or frozenset.union(*sets)
