"""De-duplication, artist caps and sequencing: the parts of a playlist that are not scores."""

from __future__ import annotations

import re
from collections import Counter
from typing import Callable, Sequence, TypeVar

from serving.schemas import Track
from serving.text import norm

T = TypeVar("T")

_VERSION_NOISE = re.compile(
    r"\s*[\(\[][^\)\]]*(remaster|live|version|edit|mix|acoustic|karaoke|instrumental|mono|stereo|feat|ft\.)[^\)\]]*[\)\]]",
    re.I,
)


def recording_key(t: Track) -> str:
    """Same recording => same key: the catalog's cluster id where known, else normalised title + first artist."""
    if t.cluster_id:
        return f"c:{t.cluster_id}"
    title = _VERSION_NOISE.sub("", t.title.lower())
    title = norm(title, keep_ampersand=False)
    artist = norm(t.artists[0] if t.artists else "", keep_ampersand=False)
    return f"t:{title}|{artist}"


# A long playlist may give one artist this share of its places when that is more than the configured
# cap: 5 of 20 tracks is a quarter of a playlist, 5 of 100 a twentieth. Chosen on CPCD train folds 0-1
# (session turns: a tenth kept hit@100 and raised recall@100, docs/quality.md).
LONG_PLAYLIST_SHARE = 0.1


def artist_cap(max_per_artist: int, length: int) -> int:
    """The artist cap of a `length`-track playlist: the configured one, or a tenth of a long playlist."""
    return max(max_per_artist, int(length * LONG_PLAYLIST_SHARE))


def select_diverse(
    ranked: Sequence[T],
    n: int,
    track_of: Callable[[T], Track],
    max_per_artist: int,
    uncapped_artists: set[str] = frozenset(),
    artist_caps: dict[str, int] | None = None,
    relax: bool = True,
) -> list[T]:
    """Greedy pick in score order: one copy per recording, at most `max_per_artist` per
    lead artist (`artist_caps`: a cap of its own for some lower-cased lead artists; none for
    artists the listener asked for). Relaxes the caps, never the de-duplication, when they
    would leave the playlist short, unless `relax` is False (see `keeps_caps`)."""
    chosen: list[T] = []
    seen: set[str] = set()
    own = artist_caps or {}
    for step in (1, 4, None) if relax else (1,):
        per_artist: Counter[str] = Counter(track_of(x).artists[0].lower() for x in chosen)
        for x in ranked:
            if len(chosen) >= n:
                return chosen
            t = track_of(x)
            key = recording_key(t)
            if key in seen:
                continue
            lead = t.artists[0].lower()
            cap = n if step is None else own.get(lead, max_per_artist) * step
            if lead not in uncapped_artists and per_artist[lead] >= cap:
                continue
            chosen.append(x)
            seen.add(key)
            per_artist[lead] += 1
    return chosen


def sequence(items: list[T], track_of: Callable[[T], Track]) -> list[T]:
    """Keep score order but avoid the same lead artist twice in a row where possible."""
    out: list[T] = []
    pending = list(items)
    while pending:
        last = track_of(out[-1]).artists[0].lower() if out else None
        pick = next((i for i, x in enumerate(pending) if track_of(x).artists[0].lower() != last), 0)
        out.append(pending.pop(pick))
    return out


# Since session 16: a "like X" playlist keeps its artist cap (`keeps_caps`).
LIKE_KEEPS_CAPS = True


def keeps_caps(similar_artists: Sequence[str], mode: str) -> bool:
    """Whether a playlist keeps its artist cap when that leaves it short: a "like X" request does.
    Music like X is many artists, not X's discography or one neighbour's ("songs like Elton John"
    had 13 of his tracks in 20, "songs like Maluma" 12 by Bad Bunny); it is shorter instead."""
    return LIKE_KEEPS_CAPS and mode == "playlist" and bool(similar_artists)


def select_diverse_ids(order: Sequence[int], n: int, key: Sequence[int], lead: Sequence[int],
                       max_per_artist: int, uncapped: Sequence[bool], relax: bool = True) -> list[int]:
    """select_diverse over integer ids: `order` is positions in score order; key/lead/uncapped
    are per position (recording key id, lower-cased lead artist id, asked-for artist)."""
    chosen: list[int] = []
    seen: set[int] = set()
    for cap in (max_per_artist, max_per_artist * 4, n) if relax else (max_per_artist,):
        per_artist: Counter[int] = Counter(lead[x] for x in chosen)
        for x in order:
            if len(chosen) >= n:
                return chosen
            k = key[x]
            if k in seen:
                continue
            a = lead[x]
            if not uncapped[x] and per_artist[a] >= cap:
                continue
            chosen.append(x)
            seen.add(k)
            per_artist[a] += 1
    return chosen


def head_first(order: list[int], accepts: Callable[[int], bool], n: int,
               pick: Callable[[list[int], int], list[int]],
               prefer: Callable[[int], bool] | None = None) -> list[int]:
    """`order` (best first), except that the first picks are the best `n` that `accepts` takes
    (`pick` chooses them under the artist cap), those `prefer` also takes before the others; the rest
    follow in order. A guess about what the listener meant orders the head of a playlist this way and
    removes nothing from it."""
    agree: list[int] = []
    best: list[int] = []
    for x in order:
        if accepts(x):
            (best if prefer is not None and prefer(x) else agree).append(x)
            if len(best if prefer is not None else agree) >= 4 * n:  # enough to fill the head under an artist cap
                break
    first = pick(best + agree[:4 * n], n)
    chosen = set(first)
    return first + [x for x in order if x not in chosen]
