"""The small tag taxonomy the fast parser matches prompts against.

Each tag has a short description: zero-shot tagging embeds "tag: description"
once and compares prompts to it by cosine similarity. Keywords give exact hits
that need no model (and keep the parser useful if embeddings are unavailable).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from serving.intent.subgenres import SUBGENRES


# Han, kana and Thai letters: scripts that do not put spaces between words.
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")


@dataclass(frozen=True)
class Tag:
    name: str
    kind: str  # "genre" | "mood" | "activity"
    description: str
    keywords: tuple[str, ...] = ()
    energy: float | None = None  # what the tag says about energy, if anything
    not_after: tuple[str, ...] = ()  # words after which a keyword is a plain word, not this tag
    not_before: tuple[str, ...] = ()  # words before which it is one ("love these": a verb)

    def pattern(self, keyword: str) -> str:
        """Regex for one keyword as a whole word, not right after a `not_after` word nor right
        before a `not_before` one. A keyword in a script written without spaces between words
        (Chinese, Japanese, Thai) is a word wherever it stands."""
        if _UNSPACED.search(keyword):
            return re.escape(keyword)
        guards = "".join(rf"(?<!\b{re.escape(w)}\s)" for w in self.not_after)
        ahead = rf"(?!\s+(?:{'|'.join(map(re.escape, self.not_before))})\b)" if self.not_before else ""
        return rf"{guards}(?<![\w-]){re.escape(keyword)}(?![\w-]){ahead}"

    def text(self) -> str:
        return f"{self.name} music: {self.description}"


def _g(name, desc, *kw, energy=None, not_after=(), not_before=()):
    return Tag(name, "genre", desc, tuple(kw) or (name,), energy, tuple(not_after), tuple(not_before))


def _m(name, desc, *kw, energy=None, not_after=(), not_before=()):
    return Tag(name, "mood", desc, tuple(kw) or (name,), energy, tuple(not_after), tuple(not_before))


def _a(name, desc, *kw, energy=None):
    return Tag(name, "activity", desc, tuple(kw) or (name,), energy)


TAXONOMY: tuple[Tag, ...] = (
    _g("rock", "guitar-driven rock bands", "rock", "rock n roll", "rock and roll", "grunge", "britpop", "psychedelic"),
    _g("classic rock", "70s and 80s guitar rock anthems", "classic rock"),
    _g("metal", "heavy metal, thrash, loud distorted guitars", "metal", "heavy metal", "metalcore", "thrash", energy=0.95),
    _g("punk", "fast loud punk rock", "punk", "pop punk", "pop-punk", "post-punk", "emo", "screamo", energy=0.85),
    _g("indie", "indie rock and indie pop", "indie", "alternative", "shoegaze", "dream pop", "bedroom pop"),
    _g("pop", "catchy mainstream pop hits", "pop", "boy band", "boy bands", "girl group", "girl groups", "bubblegum",
       "europop", "j-pop", "jpop"),
    _g("k-pop", "korean pop groups", "k-pop", "kpop", "korean pop", "korean"),
    _g("hip hop", "rap and hip hop beats", "hip hop", "hip-hop", "hiphop", "rap", "trap", "drill", "grime", "boom bap"),
    _g("r&b", "rhythm and blues, soul singers", "r&b", "rnb", "r and b", "soul", "neo-soul", "motown", "quiet storm",
       "new jack swing", "doo wop", "doo-wop"),
    _g("jazz", "jazz standards, swing, saxophone and piano trios", "jazz", "swing", "bebop"),
    _g("blues", "blues guitar and vocals", "blues"),
    _g("classical", "orchestral and piano classical composers", "classical", "orchestra", "symphony", "piano sonata",
       "opera", "aria", "arias", "baroque", "concerto", "string quartet"),
    # "A cross country road trip", "driving across the country": travel, not the genre.
    _g("country", "country and western, nashville", "country", "bluegrass", "western", "americana", "honky tonk",
       "honky-tonk", not_after=("cross", "across", "across the", "around the")),
    _g("folk", "acoustic folk songs and singer-songwriters", "folk", "acoustic", "singer-songwriter"),
    _g("electronic", "electronic dance music, edm, synths", "electronic", "edm", "electro", "synth", "electronica",
       "synthpop", "synth-pop", "electropop",
       "dubstep", "drum and bass", "drum n bass", "dnb", "synthwave", "trip hop", "trip-hop", "downtempo", "breakbeat",
       energy=0.8),
    # "Cleaning the house", "at my house": in the curation dialogs "house" is mostly a building.
    _g("house", "house and techno club music", "house", "techno", "trance", energy=0.85,
       not_after=("the", "my", "our", "your", "a", "at", "around", "whole", "clean", "cleaning", "his", "her", "their")),
    _g("reggae", "reggae and dancehall from jamaica", "reggae", "dancehall", "ska"),
    _g("latin", "latin pop, reggaeton, salsa", "latin", "latina", "latino", "reggaeton", "salsa", "bachata", "spanish",
       "español", "espanol", "cumbia", "merengue",
       "samba", "bossa nova", "mariachi", "ranchera", "corridos", "norteño", "tango", "flamenco", "vallenato",
       "perreo"),
    _g("afrobeats", "afrobeats and african pop", "afrobeats", "afrobeat", "afro", "afropop", "amapiano", "highlife"),
    _g("gospel", "christian worship and gospel", "gospel", "worship", "christian", "hymn", "hymns", "praise"),
    _g("disco", "disco and funk grooves", "disco", "funk", "funky", energy=0.8),
    # Since session 20. Music *for* kids, not kids around: "kids and adults both there so keep it clean"
    # asks for a clean party, "the kids are dressing up" tells of them. "kid" alone is mostly a name (Kid
    # Cudi), "New Kids on the Block" a band, and "children" alone as often people ("my future
    # children", Tinie Tempah's "Children of the Sun").
    _g("children", "songs for kids and nursery rhymes", "kids", "kid's", "children's", "childrens", "for children",
       "nursery rhyme", "nursery rhymes", "toddler", "toddlers", "preschool", "preschoolers", not_after=("new",),
       not_before=("and", "are", "were", "will", "would", "have", "with", "who", "both", "in", "at")),
    _g("soundtrack", "film scores and soundtracks", "soundtrack", "film score", "movie", "broadway", "musicals"),
    _g("lofi", "lo-fi hip hop beats", "lofi", "lo-fi", energy=0.2),
    _g("ambient", "ambient, instrumental soundscapes", "ambient", "instrumental", "new age", energy=0.1),
    _g("oldies", "oldies from the 50s and 60s", "oldies", "old school"),
    _m("happy", "joyful upbeat feel-good songs", "happy", "joyful", "cheerful", "feel good", "feel-good", energy=0.7),
    _m("sad", "sad, melancholic, heartbreak songs", "sad", "melancholy", "heartbreak", "blue", "depressed", "crying", energy=0.25),
    _m("chill", "relaxed, mellow, laid back", "chill", "relax", "relaxing", "mellow", "laid back", "calm", energy=0.25),
    _m("energetic", "high energy, upbeat, pumped", "energetic", "upbeat", "pumped", "hype", "high energy", energy=0.9),
    # "I love these!", "love it", "would love to hear": praise and wishes, not a request for love songs.
    _m("romantic", "love songs, romantic ballads", "romantic", "love songs", "love", "ballad", energy=0.35,
       not_after=("i", "we", "you", "they", "i'd", "we'd", "would", "will"),
       not_before=("it", "them", "em", "'em", "these", "this", "that", "those", "the", "her", "him", "how",
                   "to", "all", "what", "your", "my", "everything")),
    _m("angry", "aggressive, angry songs", "angry", "aggressive", "rage", energy=0.9),
    _m("nostalgic", "nostalgic throwback hits", "nostalgic", "throwback", "nostalgia"),
    _m("dark", "dark, moody, brooding", "dark", "moody", "brooding"),
    _m("emotional", "emotional, reflective, moving", "emotional", "reflective", "reflect", energy=0.3),
    _a("workout", "gym, running, exercise", "workout", "work out", "gym", "exercise", "running", "run", "training", energy=0.9),
    _a("party", "dance party, club night", "party", "house party", "dance", "dancing", "club", energy=0.85),
    _a("study", "focus, studying, concentration", "study", "studying", "focus", "concentrate", "concentration", energy=0.2),
    _a("work", "background music while working", "work", "working", "office", energy=0.4),
    _a("sleep", "falling asleep, bedtime", "sleep", "sleeping", "bedtime", energy=0.05),
    _a("driving", "road trip, driving in the car", "driving", "drive", "road trip", "car", "traffic"),
    _a("meditation", "meditation, yoga, mindfulness", "meditation", "meditate", "yoga", energy=0.1),
    _a("cooking", "cooking dinner at home", "cooking", "dinner"),
)


def _with_subgenres(tags: tuple[Tag, ...]) -> tuple[Tag, ...]:
    extra: dict[str, list[str]] = {}
    for name, owners in SUBGENRES.items():
        for owner in owners:
            extra.setdefault(owner, []).append(name)
    return tuple(replace(t, keywords=t.keywords + tuple(k for k in extra.get(t.name, ()) if k not in t.keywords))
                 for t in tags)


BASE_TAXONOMY = TAXONOMY  # the tags' own keywords only (the ablation tool's "subgenres" signal)
TAXONOMY = _with_subgenres(TAXONOMY)

_table: tuple[tuple[Tag, ...], tuple] = ((), ())


def _keyword_table() -> tuple[tuple[str, tuple[tuple[Tag, re.Pattern], ...]], ...]:
    """keyword -> the tags it names with each one's compiled pattern, longest keyword first. Made
    once per TAXONOMY object (a tool may swap the taxonomy for an ablation)."""
    global _table
    if _table[0] is not TAXONOMY:
        by_kw: dict[str, list[tuple[Tag, re.Pattern]]] = {}
        for t in TAXONOMY:
            for kw in t.keywords:
                by_kw.setdefault(kw, []).append((t, re.compile(t.pattern(kw))))
        _table = (TAXONOMY, tuple(sorted(((k, tuple(v)) for k, v in by_kw.items()), key=lambda x: -len(x[0]))))
    return _table[1]


def keyword_tags(low: str) -> list[tuple[Tag, re.Pattern]]:
    """The tags whose keywords a lower-case text holds, with the pattern that matched. The longest
    keyword owns its words ("work out" is not also "work"; "lovers rock" is not also "rock"); a
    keyword several tags share ("rockabilly": rock, country, oldies) names all of them."""
    return [hit for _, matched in _keyword_hits(low) for hit in matched]


def compound_genres(low: str) -> list[frozenset[str]]:
    """The genre names of each single genre word of a lower-case text that names several at once
    ("blues rock": blues and rock; "darkwave": electronic and rock), less COMPOUND_QUALIFIERS
    ("rockabilly" is rock and country; "oldies" only says when). One name means both: blues-flavoured
    rock, not any rock or any blues. Two words side by side ("rock and blues") name alternatives."""
    out: list[frozenset[str]] = []
    for _, matched in _keyword_hits(low):
        names = frozenset(t.name for t, _ in matched if t.kind == "genre") - COMPOUND_QUALIFIERS
        if len(names) > 1 and names not in out:
            out.append(names)
    return out


# Tags that only qualify another genre a word names: "glam rock" is rock of the classic rock years;
# "pop" in "pop rock", "afro-pop" or "yacht rock" says popular, and listeners file nearly every
# mainstream act under it, so artists known for both are no better a start (three CPCD dialogs lost a
# hit when pop counted; docs/quality.md, fifteenth round).
COMPOUND_QUALIFIERS = frozenset({"oldies", "classic rock", "pop"})


def _keyword_hits(low: str) -> list[tuple[str, list[tuple[Tag, re.Pattern]]]]:
    hits: list[tuple[str, list[tuple[Tag, re.Pattern]]]] = []
    for kw, owners in _keyword_table():
        if kw not in low:  # most of ~500 keywords are absent: a substring test skips their regex
            continue
        matched = [(t, pat) for t, pat in owners if pat.search(low)]
        for _, pat in matched:
            low = pat.sub(" ", low)
        if matched:
            hits.append((kw, matched))
    return hits


def tags_of(kind: str) -> tuple[Tag, ...]:
    return tuple(t for t in TAXONOMY if t.kind == kind)
