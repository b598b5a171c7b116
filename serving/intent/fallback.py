"""The fast intent parser: rules plus zero-shot tags by embedding similarity, no LLM.

It is both the default backend and the safety net every LLM backend falls back to,
so it must never raise on user text.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from serving.intent.chatter import is_chatter
from serving.intent.model import Intent, IntentSource, YearRange
from serving.intent import similar as _similar
from serving.intent.similar import AFTER, LANE_AFTER, LANE_BEFORE, split_similar, strip_like
from serving.intent.spelling import NameSpeller
from serving.intent.taxonomy import TAXONOMY, Tag, keyword_tags
from serving.retrieval.embedder import Embedder

_WORD_NUM = {"fifties": 1950, "sixties": 1960, "seventies": 1970, "eighties": 1980, "nineties": 1990}
_FILLER = re.compile(
    r"\b(hi|hello|hey|hey there|greetings|good (morning|afternoon|evening)|please|thanks?( you)?|buddy|"
    r"i'?d (like|love)( to)?|i would (like|love)( to)?|i want( to)?|i need|can you|could you|would you|"
    r"(create|make|build|give|get|suggest|find|recommend|play)( me)?|(listen|listening) to|(a|some|the) (playlist|songs?|music|tracks?)|"
    r"playlist|songs?|tracks?|music|for me|that is|that will|include|including|some|lol|lmao|haha|tho|pls|plz|thx)\b",
    re.I,
)
# Exclusion cues of the languages listeners write in besides English ("pero nada de Bad Bunny",
# "ohne Schlager", "pas de rap"): words of those languages, not knowledge of any artist. "sin" and
# "ni" (Spanish) are cues only before a catalog artist: "sin" is an English word too ("sin city").
_FOREIGN_CUES = "nada de|nada del|pas de|sans|sauf|ohne|kein|keine|keinen|senza|niente|tranne|excepto|salvo|sem"
# English phrases that start with a cue word and exclude nothing: "nothing to do" (a hammock), "the
# instructions make no sense", "its not going well", "no idea what I want". Fixed expressions of the
# language, not knowledge of any music; "no wave" is a genre name (`subgenres`), not "no" + "wave".
_NOT_EXCLUSIONS = (r"(?!(?:else\s+)?to\s+do\b|sense\b|idea\b|clue\b|matter\b|longer\b|worries\b|problem\b|"
                   r"wonder\b|going\s+(?:well|great|good)\b|wave\b)")
_CUE_WORDS = rf"\b(?:no|without|not|nothing|except|avoid|minus|skip|exclude|but no|{_FOREIGN_CUES})\s+{_NOT_EXCLUSIONS}"
_QUALIFIERS = r"too\s+|any\s+|more\s+|from\s+|by\s+"
_EXCLUDE_CUE = _CUE_WORDS + rf"(?:{_QUALIFIERS})?"
_ARTIST_CUE = rf"{_CUE_WORDS}|\b(?:sin|ni)\s+"
# Chat words end what an exclusion names: "no nickelback lol", "skip lizzo tho", "no sam smith pls"
# exclude the artist; read into the phrase, they left a term no track matches and the artist in.
_CHAT_END = r"\b(?:please|pls|plz|lol|lmao|haha|tho|though|thx|thanks)\b"
_EXCLUDE = re.compile(
    _EXCLUDE_CUE + rf"([\w'&.\- ]+?)(?=\s*(?:[,.;!?)]|\band\b|\bbut\b|\bor\b|{_CHAT_END}|$))",
    re.I,
)
_LENGTH = re.compile(r"\b(\d{1,3})\s+(?:songs|tracks|tunes|videos|pieces)\b", re.I)
_CUE = re.compile(r"\b(?:by|from|like|of|artist|artists|feat\.?|featuring|similar\s+to)\s+$", re.I)
_COMMON = frozenset(
    "the a an and or of to in on for with my me i you we it is be this that love baby home time life night day "
    "happy sad music song songs playlist run work party dance up down go out one two all new old best good bad "
    "blue heart summer rain sunday morning chill fire light dream hello sleep free home world girl boy yes no".split()
)


# A genre's own words are the genre, even where a catalog credits an "artist" by that name
# ("Classic Rock", "Jazz"): taxonomy names, not artists.
_GENRE_WORDS = frozenset(kw for t in TAXONOMY if t.kind == "genre" for kw in (t.name, *t.keywords))
# Catalogs also credit compilation "artists" named by what they hold ("Pop Hits", "Rock Classics").
# Typed lower case and uncued, words made only of genre, description and common words describe
# the music ("upbeat pop hits for a party"); "Pop Hits", "by pop hits" still name the artist.
_GENRE_TOKENS = frozenset(w for kw in _GENRE_WORDS for w in kw.split())
_DESCRIPTIVE = frozenset(
    "hits hit classics anthems favorites favourites tunes tracks jams greatest top essentials mix vibes".split()
)


@dataclass(frozen=True)
class Parsed:
    """A parsed prompt and the embedding its zero-shot tags came from (None when none was made)."""

    intent: Intent
    zs_text: str | None
    zs_vector: np.ndarray | None


@dataclass(frozen=True)
class _Pre:
    """What parsing finds before the zero-shot embedding (so a batch can embed all at once)."""

    search: str
    excluded: list[str]
    era: YearRange | None
    length: int | None
    include_artists: list[str]
    exclude_artists: list[str]
    exclude_terms: list[str]
    keyword_tags: list[tuple[Tag, float]]
    zs_text: str | None
    similar_artists: tuple[str, ...] = ()


@dataclass(frozen=True)
class _TagIndex:
    tags: tuple[Tag, ...]
    vectors: np.ndarray


class FastParser:
    """Prompt -> Intent in a few milliseconds (one embedding when zero-shot tagging is on)."""

    version = "fast-v1"

    def __init__(
        self,
        embedder: Embedder | None = None,
        artists: list[str] | None = None,
        tag_threshold: float = 0.5,
        today: dt.date | None = None,
        vocabulary: Iterable[str] | None = None,
    ):
        """`vocabulary`: every word the catalog's titles, albums and artists use; given, an artist
        name typed with one slip is read as the name (`spelling.NameSpeller`)."""
        self._embedder = embedder
        self._threshold = tag_threshold
        self._year = (today or dt.date.today()).year
        self._tags = (
            _TagIndex(TAXONOMY, embedder.encode([t.text() for t in TAXONOMY])) if embedder is not None else None
        )
        self._artists: dict[str, str] = {}
        for a in artists or ():
            key = a.lower().strip()
            if len(key) >= 3 and key not in _COMMON:
                self._artists.setdefault(key, a)
            # "Tyler, The Creator", "AC/DC", "Tony! Toni! Tone!" as the parser's word windows read
            # them; only names of several words, not all digits ("Nice!" is not every "nice").
            words = _name_key(a)
            if len(words.split()) > 1 and re.search(r"[^\W\d]", words):
                self._artists.setdefault(words, a)
        self._max_artist_words = max((len(k.split()) for k in self._artists), default=0)
        # Name word -> the artists whose names hold it, for exclusions that give part of a name.
        self._by_word: dict[str, set[str]] = {}
        for a in set(self._artists.values()):
            for w in set(_name_words(a)):
                if len(w) >= 4 and w not in _COMMON and w not in _GENRE_TOKENS:
                    self._by_word.setdefault(w, set()).add(a)
        self._speller = NameSpeller(self._artists, vocabulary) if vocabulary is not None else None

    @property
    def embedder(self) -> Embedder | None:
        return self._embedder

    def parse(self, prompt: str) -> Intent:
        return self.parse_batch([prompt])[0].intent

    def parse_batch(self, prompts: list[str]) -> list["Parsed"]:
        """Intents for many prompts; the zero-shot texts of all of them are embedded in one call."""
        pre = [self._prepare(p) for p in prompts]
        need = [i for i, x in enumerate(pre) if x.zs_text is not None]
        vecs = self._embedder.encode([pre[i].zs_text for i in need]) if need else None  # type: ignore[union-attr]
        zs: dict[int, np.ndarray] = {i: vecs[j] for j, i in enumerate(need)} if vecs is not None else {}
        return [self._finish(x, zs.get(i)) for i, x in enumerate(pre)]

    def _prepare(self, prompt: str) -> "_Pre":
        text = " ".join(prompt.split())
        if self._speller is not None:
            text, _ = self._speller.correct(text)
        if is_chatter(text):  # "Hello", "thanks!", "these are great": no request to search for
            return _Pre("", [], None, None, [], [], [], [], None)
        low = text.lower()
        excluded = [e for e in self._exclusions(text) if e]
        era = self._era(_EXCLUDE.sub(" ", low))
        length = self._length(low)
        era = era if era is not None else self._inverted_era(excluded)
        excluded = [e for e in excluded if self._era(e.lower()) is None]
        include_artists, exclude_artists, exclude_terms = self._artists_in(text, excluded)
        similar, text_nolike = split_similar(text, include_artists + exclude_artists, exclude_artists)
        exclude_artists, exclude_terms = _referred(exclude_artists, exclude_terms, _in_order(text, include_artists))
        exclude_artists = self._by_name_part(text, exclude_artists, exclude_terms)
        # "Songs like X" wants X's neighbours; X itself only when not also excluded.
        include_artists = [a for a in include_artists if a not in similar]
        search = strip_like(self._search_text(text_nolike, excluded))
        # Artist names say nothing about genre ("Daft Punk" is not punk).
        tag_text, zs_text = low, search.lower()
        for a in include_artists + exclude_artists + similar:
            tag_text, zs_text = tag_text.replace(a.lower(), " "), zs_text.replace(a.lower(), " ")
        keyword_tags = self._keyword_tags(tag_text, excluded)
        zs_text = " ".join(_PERFORMERS.sub(" ", zs_text).split())
        use_zs = self._tags is not None and len(zs_text) > 2
        return _Pre(search, excluded, era, length, include_artists, exclude_artists, exclude_terms, keyword_tags,
                    zs_text if use_zs else None, tuple(similar))

    def _finish(self, x: "_Pre", zs_vector: np.ndarray | None) -> "Parsed":
        zero_shot = self._zero_shot_tags(zs_vector, x.excluded) if zs_vector is not None else []
        if any(t.kind == "genre" for t, _ in x.keyword_tags):
            # A genre the listener named outranks one the embedding guessed ("soul classics" is not classic rock).
            zero_shot = [(t, sc) for t, sc in zero_shot if t.kind != "genre"]
        tags = _merge(x.keyword_tags, zero_shot)
        energy = self._energy(tags, x.excluded)
        intent = Intent(
            search_text=_clean(x.search)[:300],
            genres=[t.name for t in tags if t.kind == "genre"][:5],
            moods=[t.name for t in tags if t.kind == "mood"][:5],
            activities=[t.name for t in tags if t.kind == "activity"][:3],
            include_artists=x.include_artists[:10],
            exclude_artists=x.exclude_artists[:10],
            similar_artists=list(x.similar_artists[:5]),
            exclude_terms=[_clean(t)[:60] for t in x.exclude_terms][:10],
            era=x.era,
            energy=energy,
            length=x.length,
            source=IntentSource.fallback,
        )
        return Parsed(intent, x.zs_text, zs_vector)

    # --- pieces -------------------------------------------------------------
    def _era(self, low: str) -> YearRange | None:
        m = re.search(r"\b(?:the\s+)?(19|20)?(\d)0\s?'?s\b", low)
        if m:
            century = int(m.group(1)) * 100 if m.group(1) else (2000 if m.group(2) in "012" else 1900)
            start = century + int(m.group(2)) * 10
            return YearRange(start=start, end=start + 9)
        for word, start in _WORD_NUM.items():
            if word in low:
                return YearRange(start=start, end=start + 9)
        m = re.search(r"\b(?:last|past)\s+(\d{1,2})\s+years?\b", low)
        if m:
            return YearRange(start=max(1900, self._year - int(m.group(1))), end=self._year)
        m = re.search(r"\b(?:since|after)\s+((?:19|20)\d\d)\b", low)
        if m:
            return YearRange(start=int(m.group(1)), end=max(int(m.group(1)), self._year))
        m = re.search(r"\b(?:before)\s+((?:19|20)\d\d)\b", low)
        if m:
            return YearRange(start=1900, end=int(m.group(1)) - 1)
        m = re.search(r"\b(?:from|in|of)\s+((?:19|20)\d\d)\b", low)
        if m:
            return YearRange(start=int(m.group(1)), end=int(m.group(1)))
        if re.search(r"\b(brand new|latest|newest|new releases?|recent)\b", low):
            return YearRange(start=self._year - 2, end=self._year)
        return None

    @staticmethod
    def _length(low: str) -> int | None:
        m = _LENGTH.search(low)
        if m and 1 <= int(m.group(1)) <= 100:
            return int(m.group(1))
        return None

    def _inverted_era(self, excluded: list[str]) -> YearRange | None:
        """'nothing from the last 5 years' excludes an era: keep what came before it."""
        for e in excluded:
            era = self._era(e.lower())
            if era is not None and era.end >= self._year:
                return YearRange(start=1900, end=max(1900, era.start - 1))
            if era is not None and era.start > 1900:
                return None  # "no 80s" has no single range; leave the era open
        return None

    @staticmethod
    def _keyword_tags(low: str, excluded: list[str]) -> list[tuple[Tag, float]]:
        banned = " ".join(excluded).lower()
        hits: dict[str, tuple[Tag, float]] = {}
        for tag, pat in keyword_tags(low):
            if not pat.search(banned):
                hits.setdefault(tag.name, (tag, 1.0))
        return list(hits.values())

    def _zero_shot_tags(self, q: np.ndarray, excluded: list[str]) -> list[tuple[Tag, float]]:
        assert self._tags is not None
        # Whole keywords, not substrings: "no ghost stories" bans no "ost" (soundtrack).
        banned = {t.name for t, _ in keyword_tags(" ".join(excluded).lower())}
        sims = self._tags.vectors @ q
        out = []
        for kind in ("genre", "mood", "activity"):
            ranked = sorted(
                ((t, float(s)) for t, s in zip(self._tags.tags, sims)
                 if t.kind == kind and t.name not in banned),
                key=lambda x: -x[1],
            )
            # The best tag of each kind if clearly similar, a runner-up only if nearly as close.
            if ranked and ranked[0][1] >= self._threshold:
                out.append(ranked[0])
                out += [(t, s) for t, s in ranked[1:2] if s >= ranked[0][1] - 0.03]
        return out

    def _artists_in(self, text: str, excluded: list[str]) -> tuple[list[str], list[str], list[str]]:
        include: list[str] = []
        low_words = re.findall(r"[\w'&.\-]+", text)
        n = len(low_words)
        # A word belongs to one name: "Nas" inside "Lil Nas X" is no second artist.
        taken: set[int] = set()
        for size in range(min(self._max_artist_words, 5), 0, -1):
            for i in range(n - size + 1):
                if taken.intersection(range(i, i + size)):
                    continue
                words = low_words[i : i + size]
                cand = " ".join(words).lower().strip(".")
                name = self._artists.get(cand) or self._artists.get(_name_key(cand))
                if not name or name in include:
                    continue
                prefix = " ".join(low_words[max(0, i - 2) : i]) + " "
                # One common-looking word is only an artist when capitalised or cued ("by X", "similar
                # to X", "X vibes", "X sound-alikes", "X type country").
                after = " " + " ".join(low_words[i + 1 : i + 4])
                if size == 1 and not (words[0][:1].isupper() or _CUE.search(prefix) or AFTER.search(after)
                                      or (_similar.MORE_PHRASINGS and LANE_BEFORE.search(prefix)
                                          and LANE_AFTER.search(after))):
                    continue
                if any(cand in _name_key(e) for e in excluded) or cand in _GENRE_WORDS:
                    continue
                if size > 1 and _describes_music(words, prefix):
                    continue
                include.append(name)
                taken.update(range(i, i + size))
        exclude_artists, exclude_terms = [], []
        for e in excluded:
            name = self._artists.get(e.lower()) or self._artists.get(_name_key(e))
            (exclude_artists if name else exclude_terms).append(name or e)
        return include, exclude_artists, exclude_terms

    def _exclusions(self, text: str) -> list[str]:
        """What the exclusion cues exclude, in order: a catalog artist named right after a cue, whole
        ("no Dr. Dre": the phrase would otherwise end at "Dr." and "Dre" be read as a wish; "no AC/DC"),
        else the phrase up to the next punctuation or conjunction."""
        found: dict[int, str] = {}
        # A cue word that begins a catalog artist's name is the name ("songs like No Doubt").
        named = {m.start() for m in re.finditer(_CUE_WORDS, text, re.I)
                 if (a := self._artist_at(text[m.start():])) and len(a.split()) > 1}
        for m in re.finditer(_EXCLUDE_CUE, text, re.I):
            name = self._artist_at(text[m.end():])
            if name:
                found[m.start()] = name
        # A qualifier word may begin the name itself ("no Too $hort", "without Any Given Day"), and some
        # cues precede only names: the cue word alone, then the name.
        for m in re.finditer(_ARTIST_CUE, text, re.I):
            name = self._artist_at(text[m.end():])
            if name and (m.start() not in found or len(name) > len(found[m.start()])):
                found[m.start()] = name
        for m in _EXCLUDE.finditer(text):
            found.setdefault(m.start(), m.group(1).strip(" .'-"))
        return [found[k] for k in sorted(found) if k not in named]

    def _by_name_part(self, text: str, exclude_artists: list[str], exclude_terms: list[str]) -> list[str]:
        """"No nicki tho", "skip kanye": an exclusion that is a word or two of one catalog artist's name
        and of no other's also excludes that artist (and the credits that hold the whole name, "Ed
        Sheeran & Justin Bieber" for "no bieber"); it stays a title term as well. A word several artists
        share ("no chris") names none, and neither does a bare "not" ("i need to not panic" is not
        Panic! At The Disco): in running English it negates a verb or an adjective."""
        if not NAME_PARTS:
            return exclude_artists
        artists = list(exclude_artists)
        for t in exclude_terms:
            if re.search(rf"(?<!\bbut )\bnot\s+(?:{_QUALIFIERS})?{re.escape(t)}", text, re.I):
                continue
            words = [w.strip(".'") for w in t.lower().split()]
            if not 0 < len(words) <= 2 or not all(w in self._by_word for w in words):
                continue
            hits = {a for a in set.intersection(*(self._by_word[w] for w in words)) if _within(words, _name_words(a))}
            root = min(hits, key=lambda a: len(_name_words(a))) if hits else None
            if root is None or len(_name_words(root)) <= len(words) \
                    or not all(_within(_name_words(root), _name_words(a)) for a in hits):
                continue
            artists += [a for a in sorted(hits, key=len) if a not in artists]
        return artists

    def _artist_at(self, rest: str) -> str | None:
        """The longest catalog artist name (several words, or one capitalised) that `rest` starts with,
        as written there."""
        words = rest.split()
        for size in range(min(self._max_artist_words, len(words)), 0, -1):
            cand = " ".join(words[:size]).rstrip(",;:!?)")
            name = self._artists.get(cand.lower().strip(".")) or self._artists.get(_name_key(cand))
            if name and (size > 1 or cand[:1].isupper()):
                # A sentence's full stop is not part of the name ("no Dr. Dre."), unless the name ends
                # with one ("Boney M.").
                return cand if name.endswith(".") or not cand.endswith(".") else cand[:-1]
        return None

    @staticmethod
    def _energy(tags: list[Tag], excluded: list[str]) -> float | None:
        vals = [t.energy for t in tags if t.energy is not None]
        energy = sum(vals) / len(vals) if vals else None
        ex = " ".join(excluded).lower()
        if re.search(r"\b(upbeat|energetic|loud|fast|intense|hype|heavy)\b", ex):
            energy = min(energy if energy is not None else 0.5, 0.35)
        if re.search(r"\b(slow|calm|sleepy|mellow|ballads?)\b", ex):
            energy = max(energy if energy is not None else 0.5, 0.65)
        return None if energy is None else round(energy, 2)

    @staticmethod
    def _search_text(text: str, excluded: list[str] = ()) -> str:
        for e in excluded:  # whole names first: "no Dr. Dre" is not cut at "Dr."
            text = re.sub(rf"(?:{_EXCLUDE_CUE}|{_ARTIST_CUE})" + re.escape(e), " ", text, flags=re.I)
        without_ex = _EXCLUDE.sub(" ", text)
        stripped = _LENGTH.sub(" ", without_ex)
        stripped = _FILLER.sub(" ", stripped)
        stripped = " ".join(stripped.split()).strip(" ,.!?;:-")
        stripped = re.sub(r"^(of|with|for)\s+", "", stripped, flags=re.I)
        if not stripped:  # "I would like to create a playlist": asks for nothing in particular
            return ""
        return stripped if len(stripped) >= 3 else " ".join(without_ex.split())


# Words for who performs that say nothing of the genre: "singers like Kacey Musgraves" was tagged
# r&b and blues ("soul singers", "blues guitar and vocals"), "bands like Slipknot" rock. ("Rappers"
# does name a genre, and "girl group", "boy band" are keywords of one.)
_PERFORMERS = re.compile(r"(?<![\w-])(?:singers?|bands?|artists?|groups?|musicians?|acts?|vocalists?|performers?)(?![\w-])")


def _name_key(name: str) -> str:
    """An artist name as a sequence of words, as the parser reads windows of the text: "Tyler, The
    Creator" and "tyler the creator" are one key."""
    return " ".join(re.findall(r"[\w'&.\-]+", name.lower())).strip(".")


# Since session 20 (ablation signal `name_parts`): an exclusion that is a word or the initials of a
# name the text gives ("minus blink", "without STP") names that artist, where before only "<word>
# himself" did; and one that is part of one catalog artist's name and no other's ("no nicki tho")
# excludes that artist too.
NAME_PARTS = True
_PRONOUN = re.compile(r"^(?:(?:actually|really|just|literally|even)\s+)?"
                      r"(?:(her|him|them|it|herself|himself|themselves|itself|that (?:artist|band|singer|guy|girl))"
                      r"|(\S+)\s+(?:herself|himself|themselves|itself))$", re.I)


def _in_order(text: str, artists: list[str]) -> list[str]:
    """`artists` in the order the text names them (the window scan finds longer names first)."""
    key = _name_key(text)
    pos = {a: key.find(_name_key(a)) for a in artists}
    return sorted(artists, key=lambda a: pos[a] if pos[a] >= 0 else len(key))


def _initials(name: str) -> set[str]:
    """How a name is shortened: "Stone Temple Pilots" -> "stp", "Rage Against the Machine" -> "ratm";
    a leading "The" may go ("The Beach Boys" -> "bb" or "tbb")."""
    words = [w for w in re.findall(r"[^\W\d_]+", name.lower()) if w not in ("and",)]
    if len(words) < 2:
        return set()
    return {"".join(w[0] for w in words), "".join(w[0] for w in (words[1:] if words[0] == "the" else words))}


def _name_words(name: str) -> list[str]:
    return _name_key(name).replace("-", " ").split()


def _within(words: list[str], name_words: list[str]) -> bool:
    n = len(words)
    return any(name_words[i:i + n] == words for i in range(len(name_words) - n + 1))


def _part_of(part: str, named: list[str]) -> str | None:
    """The last named artist whose name `part` is a word or words of ("minus blink" after blink-182,
    "no beach boys" after The Beach Boys) or the initials of ("without STP" after Stone Temple Pilots)."""
    words = [w.strip(".'") for w in part.lower().split()]
    if not words or any(w in _COMMON or w in _GENRE_TOKENS for w in words) or len("".join(words)) < 2:
        return None
    for a in reversed(named):
        if (len("".join(words)) >= 3 and _within(words, _name_words(a))) or (len(words) == 1 and words[0] in _initials(a)):
            return a
    return None


def _referred(exclude_artists: list[str], exclude_terms: list[str], named: list[str]) -> tuple[list[str], list[str]]:
    """"Like Amy Winehouse but not actually her", "like Tyler, The Creator but not Tyler himself",
    "like Stone Temple Pilots but without STP", "in the blink-182 lane minus blink": an exclusion that
    is a pronoun, or a word or the initials of a named artist's name (with or without "himself"),
    refers to the artist named before it, not to a title word. `named`: the artists the text names,
    in order."""
    if not named:
        return exclude_artists, exclude_terms
    artists, terms = list(exclude_artists), []
    for t in exclude_terms:
        m = _PRONOUN.match(t.strip())
        who = None
        if m and m.group(1):
            who = named[-1]
        elif m and m.group(2):
            who = _part_of(m.group(2), named)
        elif NAME_PARTS and len(t.split()) <= 3:
            who = _part_of(t, named)
        if who is None:
            terms.append(t)
        elif who not in artists:
            artists.append(who)
    return artists, terms


def _describes_music(words: list[str], prefix: str) -> bool:
    if any(w[:1].isupper() for w in words) or _CUE.search(prefix):
        return False
    low = [w.lower() for w in words]
    return any(w in _GENRE_TOKENS for w in low) and all(
        w in _GENRE_TOKENS or w in _DESCRIPTIVE or w in _COMMON for w in low)


def _merge(*groups: list[tuple[Tag, float]]) -> list[Tag]:
    best: dict[str, tuple[Tag, float]] = {}
    for group in groups:
        for tag, score in group:
            if tag.name not in best or best[tag.name][1] < score:
                best[tag.name] = (tag, score)
    return [t for t, _ in sorted(best.values(), key=lambda x: -x[1])]


def _clean(s: str) -> str:
    """Drop characters the Intent schema forbids (control chars, quotes, backslashes)."""
    return re.sub(r"[\x00-\x1f\"\\]", " ", s).strip()
