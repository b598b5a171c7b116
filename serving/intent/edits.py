"""The fast parser's conversational edits: (previous intent, new message) -> updated intent.

A session's later turns are refinements ("more upbeat", "no more Drake", "add some
Adele", "keep the first five"), not new requests. The new message is parsed by the
fast parser as usual, then merged into the previous intent by these rules:

- add artists: artists the message names are added (and leave the exclusions);
- remove artists / genres: "no more X", "no X", "less X", "remove X", "drop X",
  "without X", "move away from X", "get rid of X", "not X": an artist X goes to
  exclude_artists; a genre or mood X leaves genres/moods ("no"/"remove"-style also
  adds it to exclude_terms); anything else after a hard "no more" becomes an exclude term;
- "more X" / "less X" with an energy or tempo word (upbeat, faster, calmer, ...) moves
  energy by ENERGY_STEP; with a genre or mood, adds it / removes it; "more X" where X is an
  excluded term ("nothing too upbeat" earlier) also takes that exclusion back;
- "something like <track or artist>": an artist becomes wanted; a catalog title becomes
  an anchor track (the session treats it like a liked track);
- "keep the first five": the first N shown tracks are pinned;
- genres, moods, activities and era named in the message are merged in, newest first;
  search text accumulates (oldest words dropped past the schema's 300 characters).

Kept apart from serving/intent/fallback.py (first-turn parsing) on purpose: one concept per file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from serving.intent.model import Intent
from serving.intent.taxonomy import TAXONOMY, Tag

ENERGY_STEP = 0.25
_NUM = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
        "ten": 10, "a couple": 2, "a few": 3}
_KEEP = re.compile(r"\bkeep(?:ing)?\s+(?:only\s+)?(?:the\s+)?(?:first|top)\s+(\d{1,2}|one|two|three|four|five|six|"
                   r"seven|eight|nine|ten|a couple|a few)\b", re.I)
_STOP = r"(?=\s*(?:[,.;!?)]|\band\b|\bbut\b|\bor\b|\bplease\b|\bthough\b|\binstead\b|\bsongs?\b|\bmusic\b|\bgenres?\b|\bstuff\b|\bvibes?\b|\btracks?\b|$))"
_REMOVE = re.compile(
    r"\b(no more|not so much|no|without|remove|drop|skip|get rid of|move away from|away from|stop with|"
    r"less|fewer|not)\s+(?:the\s+|any\s+|of\s+(?:the\s+)?)?([\w'&.\- ]+?)" + _STOP, re.I)
_MORE = re.compile(r"\b(more|add(?:\s+some)?|extra)\s+(?:of\s+(?:the\s+)?|some\s+)?([\w'&.\- ]+?)" + _STOP, re.I)
_LIKE = re.compile(r"\b(?:something|songs?|tracks?|more|stuff|anything|music)?\s*(?:like|similar to)\s+"
                   r"[\"']?([\w'&.\- ]+?)[\"']?" + _STOP, re.I)
_SOFT_REMOVE = {"less", "fewer", "not so much"}
_UP = re.compile(r"^(upbeat|energetic|energy|intense|hype|hyped|faster|fast|danceable|louder|loud|heavier|heavy|"
                 r"lively|pumped|up ?tempo|tempo|bpm|exciting|aggressive)$", re.I)
_DOWN = re.compile(r"^(calm|calmer|chill|chiller|chilled|mellow|mellower|slow|slower|relaxed|relaxing|softer|soft|"
                   r"quiet|quieter|sleepy|down ?tempo|gentle|laid back|ballads?)$", re.I)
_COMPARATIVE = re.compile(r"(?<!more )(?<!less )\b(faster|louder|heavier|slower|calmer|chiller|mellower|softer)\b", re.I)


@dataclass(frozen=True)
class EditResult:
    intent: Intent
    keep_first: int | None = None  # pin the first N shown tracks
    anchors: tuple[str, ...] = ()  # catalog track ids the listener named ("something like ...")
    ops: tuple[str, ...] = field(default=())  # human-readable edits, for the session history


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s&]", " ", s.lower())).strip()


def _tag(phrase: str) -> Tag | None:
    p = _norm(phrase)
    for t in TAXONOMY:
        if p == t.name or p in t.keywords or p.rstrip("s") in t.keywords:
            return t
    return None


def _merge(new: list[str], old: list[str], limit: int, drop: set[str] = frozenset()) -> list[str]:
    out: list[str] = []
    for x in [*new, *old]:
        if x.lower() not in {o.lower() for o in out} and x.lower() not in drop:
            out.append(x)
    return out[:limit]


class EditRules:
    """Built once per replica from the catalog: artist names and track titles it may resolve."""

    version = "edits-v1"

    def __init__(self, artists: Iterable[str] = (), titles: Iterable[tuple[str, str]] = ()):
        self._artists: dict[str, str] = {}
        for a in artists:
            k = _norm(a)
            if len(k) >= 2:
                self._artists.setdefault(k, a)
        self._max_words = max((len(k.split()) for k in self._artists), default=0)
        self._titles: dict[str, str] = {}
        for track_id, title in titles:
            k = _norm(re.sub(r"\s*[\(\[].*?[\)\]]", "", title))
            if len(k) >= 4:
                self._titles.setdefault(k, track_id)

    def artist(self, phrase: str) -> str | None:
        return self._artists.get(_norm(phrase))

    def _artist_at(self, rest: str) -> str | None:
        """The longest catalog artist name of several words that `rest` starts with: "no more Dr. Dre"
        names Dr. Dre, where the phrase would end at "Dr." and exclude every title word "dr..."."""
        words = rest.split()
        for size in range(min(self._max_words, len(words)), 1, -1):
            name = self.artist(" ".join(words[:size]))
            if name:
                return name
        return None

    def apply(self, previous: Intent, message: str, parsed: Intent) -> EditResult:
        """`parsed` is the fast parser's reading of `message` alone."""
        text = " ".join(message.split())
        ops: list[str] = []
        include = list(previous.include_artists)
        exclude = list(previous.exclude_artists)
        terms = list(previous.exclude_terms)
        genres, moods = list(previous.genres), list(previous.moods)
        energy = previous.energy
        drop_tags: set[str] = set()
        add_tags: list[Tag] = []
        anchors: list[str] = []
        handled: set[str] = set()

        def exclude_artist(name: str) -> None:
            if name.lower() not in {x.lower() for x in exclude}:
                exclude.append(name)
                ops.append(f"exclude artist {name}")
            include[:] = [x for x in include if x.lower() != name.lower()]

        def include_artist(name: str) -> None:
            if name.lower() not in {x.lower() for x in include}:
                include.append(name)
                ops.append(f"add artist {name}")
            exclude[:] = [x for x in exclude if x.lower() != name.lower()]

        def bump(delta: float, why: str) -> None:
            nonlocal energy
            energy = round(min(1.0, max(0.0, (energy if energy is not None else 0.5) + delta)), 2)
            ops.append(f"energy {'+' if delta > 0 else '-'} ({why}) -> {energy}")

        for m in _REMOVE.finditer(text):
            verb, phrase = m.group(1).lower(), m.group(2).strip(" .'-")
            phrase = self._artist_at(text[m.start(2):]) or phrase
            if not phrase or _norm(phrase) in {"one", "ones", "that", "this", "those", "them", "it"}:
                continue
            handled.add(_norm(phrase))
            soft = verb in _SOFT_REMOVE
            name = self.artist(phrase)
            tag = _tag(phrase)
            if _UP.match(_norm(phrase)) and soft:
                bump(-ENERGY_STEP, f"less {phrase}")
            elif _DOWN.match(_norm(phrase)) and soft:
                bump(ENERGY_STEP, f"less {phrase}")
            elif name and verb != "not":
                exclude_artist(name)
            elif tag is not None:
                drop_tags.add(tag.name)
                ops.append(f"remove {tag.kind} {tag.name}")
                if not soft and tag.name not in terms:
                    terms.append(_norm(phrase))
            elif verb in ("no more", "without", "remove", "get rid of", "drop") and len(phrase) <= 60:
                if _norm(phrase) not in {_norm(t) for t in terms}:
                    terms.append(_norm(phrase))
                    ops.append(f"exclude {_norm(phrase)}")

        for m in _MORE.finditer(text):
            phrase = m.group(2).strip(" .'-")
            n = _norm(phrase)
            if not n or n in handled:
                continue
            if any(_norm(t) == n for t in terms):
                # "Nothing too upbeat", then "more upbeat": the listener takes the exclusion back.
                terms = [t for t in terms if _norm(t) != n]
                ops.append(f"allow {n}")
            if _UP.match(n):
                bump(ENERGY_STEP, f"more {phrase}")
            elif _DOWN.match(n):
                bump(-ENERGY_STEP, f"more {phrase}")
            elif (tag := _tag(phrase)) is not None:
                add_tags.append(tag)
        for m in _COMPARATIVE.finditer(text):
            w = m.group(1).lower()
            bump(ENERGY_STEP if w in ("faster", "louder", "heavier") else -ENERGY_STEP, w)

        for m in _LIKE.finditer(text):
            phrase = m.group(1).strip(" .'-")
            name = self.artist(phrase)
            if name:
                include_artist(name)
                continue
            tid = self._titles.get(_norm(phrase))
            if tid and tid not in anchors:
                anchors.append(tid)
                ops.append(f"like track {tid}")

        for a in parsed.include_artists:
            if _norm(a) not in handled:  # named again, positively: wanted again
                include_artist(a)
        for a in parsed.exclude_artists:
            exclude_artist(a)
        for t in parsed.exclude_terms:
            if _norm(t) not in {_norm(x) for x in terms} and _norm(t) not in handled:
                terms.append(t)

        new_genres = [t.name for t in add_tags if t.kind == "genre"] + [g for g in parsed.genres]
        new_moods = [t.name for t in add_tags if t.kind == "mood"] + [g for g in parsed.moods]
        for g in new_genres + new_moods:
            if g not in genres + moods and g not in drop_tags:
                ops.append(f"add {g}")
        genres = _merge([g for g in new_genres if g not in drop_tags], genres, 5, drop_tags)
        moods = _merge([g for g in new_moods if g not in drop_tags], moods, 5, drop_tags)
        activities = _merge(list(parsed.activities), list(previous.activities), 3)
        # A later message's tags ("love it" reads as romantic) must not undo the energy the
        # conversation settled on; only explicit energy edits move it once it is set.
        if parsed.energy is not None and energy is None:
            energy = parsed.energy
        keep = None
        if (k := _KEEP.search(text)) is not None:
            v = k.group(1).lower()
            keep = int(v) if v.isdigit() else _NUM.get(v)
            ops.append(f"keep first {keep}")
        search = _accumulate(previous.search_text, parsed.search_text, text)
        intent = previous.model_copy(update={
            "search_text": search, "genres": genres, "moods": moods, "activities": activities,
            "include_artists": include[:10], "exclude_artists": exclude[:10],
            "exclude_terms": [t[:60] for t in terms][:10],
            "era": parsed.era or previous.era, "energy": energy,
            "length": parsed.length or previous.length, "source": parsed.source,
        })
        return EditResult(Intent.model_validate(intent.model_dump()), keep, tuple(anchors), tuple(ops))


def _accumulate(previous: str, new: str, message: str) -> str:
    """Search text grows with the conversation; past 300 characters the oldest words go."""
    joined = " ".join(x for x in (previous.strip(), new.strip()) if x)
    joined = re.sub(r"[\x00-\x1f\"\\]", " ", joined)
    if len(joined) <= 300:
        return joined
    words = joined.split()
    while words and len(" ".join(words)) > 300:
        words.pop(0)
    return " ".join(words)
