"""What a track's own text says about it: version flags and the language of its title.

Pure functions of title / album / artist names, so any catalog gets them, and the ranker can
compute a flag for a borrowed track without loading anything. Each flag names the words
that set it (the evidence travels with the attribute).
"""

from __future__ import annotations

import functools
import re
import unicodedata

from serving.schemas import Track
from serving.text import norm

FLAGS: dict[str, re.Pattern] = {
    "karaoke": re.compile(r"\bkaraoke\b|\bsing[- ]?along\b|\bbacking track\b|without backing vocals|\bsing2piano\b", re.I),
    "cover": re.compile(r"originally performed by|made popular by|made famous by|in the style of|\btribute to\b|"
                        r"\bas performed by\b|\b(?:a |the )?cover(?: version)?\b|\bkidz bop\b", re.I),
    "live": re.compile(r"\blive\b(?! (?:forever|and let|your life|it up|wire|ya))|\bunplugged\b|\bin concert\b", re.I),
    "remaster": re.compile(r"\bremaster(?:ed)?\b", re.I),
    "remix": re.compile(r"\bremix\b|\brmx\b|\bedit\b(?= *[\])])", re.I),
    "instrumental": re.compile(r"\binstrumental\b", re.I),
}
# Flags that make a track a stand-in for the recording a listener asked for.
STAND_IN = ("karaoke", "cover")

_SCRIPTS = (("ko", "HANGUL"), ("ja", "HIRAGANA"), ("ja", "KATAKANA"), ("zh", "CJK UNIFIED"), ("ru", "CYRILLIC"),
            ("ar", "ARABIC"), ("hi", "DEVANAGARI"), ("el", "GREEK"), ("he", "HEBREW"), ("th", "THAI"))
# Function words that are frequent in one language's titles and rare in English ones.
_WORDS = {
    "es": "el la los las que mi tu te amor corazón contigo quiero para por sin noche vida yo eres como baila bailar "
          "canción canciones música musica en del para bailar besos fuego otra vez solo todo nada mujer señorita loco loca dime "
          "una con soy estoy hasta cuando donde porque pero más así ella tú mami papi gente ti vamos mañana siempre nunca",
    "pt": "não você meu minha coração saudade obrigado amor de mim eu te amo também",
    "fr": "je tu le la les et est une pas moi toi mon ma c'est avec pour dans sur qui chanson amour rien",
}
_WORD_SETS = {lang: frozenset(w.split()) for lang, w in _WORDS.items()}
# Letters one language's words carry and English ones do not (é and ç are shared, so they say nothing).
_LETTERS = {"es": frozenset("ñáíóú¿¡"), "pt": frozenset("ãõ"), "fr": frozenset("èêàù")}
# English function words: an artist whose titles hold as many of these is not singing in another language.
_ENGLISH = frozenset("the a an of to in my you me i is it on and your for be we don't i'm it's love all what this "
                     "that with up down no baby girl boy night".split())
ARTIST_LANGUAGE_SHARE = 0.2  # share of an artist's title / album words that must be the language's


def track_flags(t: Track) -> dict[str, str]:
    """flag -> the matched words, for every flag the title / album / artist text sets."""
    text = f"{t.title} || {t.album or ''} || {' '.join(t.artists)}"
    out = {}
    for name, pat in FLAGS.items():
        m = pat.search(text)
        if m:
            out[name] = m.group(0)
    return out


def is_stand_in(t: Track) -> bool:
    return _stand_in_text(t.title, t.album or "", " ".join(t.artists))


@functools.lru_cache(maxsize=1 << 18)
def _stand_in_text(title: str, album: str, artists: str) -> bool:
    # Asked for every retrieved and borrowed candidate of every request (~1,000 a playlist): the
    # regexes were half the Retriever's and the Ranker's CPU. A pure function of the text, so
    # remembering it can never go stale; bounded well above any catalog's size.
    text = f"{title} || {album} || {artists}"
    return any(FLAGS[f].search(text) for f in STAND_IN)


def title_language(text: str) -> tuple[str | None, str]:
    """(language code or None, evidence). Non-Latin scripts decide on their own; Latin-script
    titles need two function words of one language (one is too often a name or a loan word)."""
    counts: dict[str, int] = {}
    for ch in text:
        if ch.isalpha() and ord(ch) > 0x24F:
            name = unicodedata.name(ch, "")
            for lang, script in _SCRIPTS:
                if name.startswith(script):
                    counts[lang] = counts.get(lang, 0) + 1
                    break
    if counts:
        lang = max(counts, key=counts.get)
        return lang, f"{counts[lang]} {lang} script characters"
    words = re.findall(r"[\wçñãõéèêáíóúü']+", text.lower())
    best, hits = None, []
    for lang, vocab in _WORD_SETS.items():
        h = [w for w in words if w in vocab]
        if len(h) > len(hits):
            best, hits = lang, h
    if best and len(set(hits)) >= 2:
        return best, "words: " + ", ".join(sorted(set(hits))[:4])
    return None, ""


def artist_language(texts: list[str]) -> tuple[str | None, str]:
    """(language code or None, evidence) of an artist from all its titles and albums together.
    One short title rarely holds two function words ("Ojitos Lindos", "Pepas"), but an artist's
    titles together do: words of the language's list, or words with its letters (one at least
    from the list), must be a fifth of all the words and outnumber English function words."""
    words = re.findall(r"[\wçñãõéèêáíóúüàù¿¡']+", " ".join(dict.fromkeys(texts)).lower())
    best, best_hits, best_listed = None, 0, 0
    for lang, vocab in _WORD_SETS.items():
        listed = [w for w in words if w in vocab]
        lettered = [w for w in words if w not in vocab and not _LETTERS[lang].isdisjoint(w)]
        if (len(listed) + len(lettered), len(listed)) > (best_hits, best_listed):
            best, best_hits, best_listed = lang, len(listed) + len(lettered), len(listed)
    english = sum(w in _ENGLISH for w in words)
    if best and best_listed >= 1 and best_hits >= 2 and best_hits > english \
            and best_hits >= ARTIST_LANGUAGE_SHARE * len(words):
        return best, f"{best_hits} of {len(words)} title / album words ({english} English function words)"
    return None, ""


_NAME_WORD = re.compile(r"[^\W_]{3,}")
# Words too common in act names to say two acts are named alike.
_GENERIC = frozenset("the and band music orchestra group trio quartet project feat featuring with los las".split())


@functools.lru_cache(maxsize=1 << 16)
def name_words(name: str) -> frozenset[str]:
    return frozenset(w for w in _NAME_WORD.findall(norm(name)) if w not in _GENERIC)


def named_alike(a: frozenset[str], b: frozenset[str]) -> bool:
    """Two acts' names share a word but neither is an alias of the other ("Johnny Gill" and
    "Johnny Cash" yes; "Bob Marley" and "Bob Marley & The Wailers" no: one name holds the other)."""
    return bool(a & b) and not (a <= b or b <= a)
