"""Artist labels from an LLM: the enrichment's model-knowledge source (issue 14).

Listener evidence (what curation dialogs kept) covers the artists people asked about; an LLM
knows about many more. `segue label-artists` asks the configured intent backend (vLLM in the
replica, or any OpenAI-compatible server: the same engines that parse intents) one question per
artist: given its name and a few of its track and album titles, which genre families (the
taxonomy's names, never artists), which decade and which language. Decoding is constrained to a
JSON schema over those names, so every answer parses. The answers are written to a labels file;
`segue enrich --llm-labels FILE` then adds them to each artist's direct evidence as source `llm`,
at `weight` per artist (a kept track in one dialog is 1.0), beside the listener evidence, and the
labels spread through the artist graph like any other evidence.

Labelling is the expensive step (one LLM call per artist), so it is a separate command whose file
is kept and versioned: the enrichment key includes its fingerprint. How good the labels are is
measured, not assumed (`python -m serving.tools.label_agreement FILE`; docs/enrichment.md).

The few-shot examples use invented artists: the prompt teaches the answer's form, never a
genre for a real artist.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from serving.catalog.enrichment.text import is_stand_in
from serving.intent.prompt_template import PromptTemplate
from serving.intent.taxonomy import TAXONOMY
from serving.text import norm

PROMPT_VERSION = "artist-labels-v1"
GENRES = tuple(t.name for t in TAXONOMY if t.kind == "genre")
DECADES = tuple(f"{d}s" for d in range(1950, 2030, 10))
# The languages the title-text detector knows (text.py), plus English.
LANGUAGES = ("en", "es", "pt", "fr", "ko", "ja", "zh", "ru", "ar", "hi", "el", "he", "th")
UNKNOWN = "unknown"
MAX_GENRES = 3
MAX_TOKENS = 96  # the longest valid answer is ~40 tokens of a BPE vocabulary
W_LLM = 1.0  # one artist's LLM label counts as much as one dialog keeping one of its tracks

SYSTEM = (
    "You label music artists for a music catalog. Given an artist and some of their song and album "
    "titles, answer with the artist's genre families (one to three, most typical first, from: "
    + ", ".join(GENRES)
    + "), the decade most of their music comes from, and the language they mostly sing in (ISO 639-1 "
    "code). Answer 'unknown' for a decade or language you are not sure of. Answer with JSON only."
)
# Invented artists: the examples show the form of an answer and teach no real artist's genre.
EXAMPLES = (
    ("Artist: The Velvet Harbours. Songs: Neon Tide; Paper Crowns; Midnight Static. Albums: Static Youth",
     {"genres": ["indie", "rock"], "decade": "2010s", "language": "en"}),
    ("Artist: DJ Lunaro. Songs: Fiesta en la Playa; Baila Conmigo; Corazón de Fuego",
     {"genres": ["latin", "pop"], "decade": "2020s", "language": "es"}),
    ("Artist: Marguerite Solene Quartet. Songs: Blue Smoke Waltz; Autumn in Lyon; Quiet Hours",
     {"genres": ["jazz"], "decade": UNKNOWN, "language": "fr"}),
)


class LabelError(ValueError):
    """An answer that is not a valid label (only possible without constrained decoding)."""


@dataclass(frozen=True)
class ArtistCard:
    """What the model is told about one artist."""

    name: str
    titles: tuple[str, ...]
    albums: tuple[str, ...]

    def text(self) -> str:
        s = f"Artist: {self.name}. Songs: {'; '.join(self.titles)}"
        return s + (f". Albums: {'; '.join(self.albums)}" if self.albums else "")


@dataclass(frozen=True)
class ArtistLabel:
    artist: str
    genres: tuple[str, ...]
    decade: str | None  # "1990s"
    language: str | None

    @property
    def key(self) -> str:
        """The enrichment's artist key (normalised name)."""
        return norm(self.artist)

    def as_dict(self) -> dict:
        return {"artist": self.artist, "genres": list(self.genres), "decade": self.decade, "language": self.language}


def template() -> PromptTemplate:
    return PromptTemplate(PROMPT_VERSION, SYSTEM,
                          tuple((q, json.dumps(a, separators=(",", ":"))) for q, a in EXAMPLES),
                          request_label="Artist card", answer_label="Labels")


def label_schema() -> dict:
    return {
        "type": "object",
        "properties": {
            "genres": {"type": "array", "items": {"type": "string", "enum": list(GENRES)},
                       "minItems": 1, "maxItems": MAX_GENRES},
            "decade": {"type": "string", "enum": list(DECADES) + [UNKNOWN]},
            "language": {"type": "string", "enum": list(LANGUAGES) + [UNKNOWN]},
        },
        "required": ["genres", "decade", "language"],
        "additionalProperties": False,
    }


def parse_label(artist: str, text: str) -> ArtistLabel:
    try:
        d = json.loads(text)
    except ValueError as e:
        raise LabelError(f"not JSON: {text[:120]!r}") from e
    if not isinstance(d, dict):
        raise LabelError(f"not a JSON object: {text[:120]!r}")
    return label_from_dict(artist, d)


def label_from_dict(artist: str, d: dict) -> ArtistLabel:
    genres = d.get("genres")
    if not isinstance(genres, list) or not genres or any(g not in GENRES for g in genres):
        raise LabelError(f"genres must be 1-{MAX_GENRES} of the taxonomy's genre names, got {genres!r}")
    decade, language = d.get("decade") or UNKNOWN, d.get("language") or UNKNOWN
    if decade not in DECADES + (UNKNOWN,) or language not in LANGUAGES + (UNKNOWN,):
        raise LabelError(f"decade {decade!r} / language {language!r} not in the schema's values")
    return ArtistLabel(artist, tuple(dict.fromkeys(genres))[:MAX_GENRES],
                       None if decade == UNKNOWN else decade, None if language == UNKNOWN else language)


def artist_cards(tracks, top: int, titles: int = 5, albums: int = 3) -> list[ArtistCard]:
    """The `top` lead artists by catalog track count, each with its first titles and albums.
    Karaoke / cover labels are left out: their "genre" is whatever they cover."""
    by_artist: dict[str, list] = defaultdict(list)
    for t in tracks:
        if t.artists:
            by_artist[t.artists[0]].append(t)
    ranked = sorted(by_artist.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    out = []
    for name, ts in ranked:
        real = [t for t in ts if not is_stand_in(t)]
        if len(real) < len(ts) / 2:
            continue
        out.append(ArtistCard(
            name,
            tuple(dict.fromkeys(t.title for t in real))[:titles],
            tuple(dict.fromkeys(t.album for t in real if t.album and norm(t.album) != norm(t.title)))[:albums]))
        if len(out) >= top:
            break
    return out


@dataclass
class LabelRun:
    labels: list[ArtistLabel]
    errors: dict[str, str]
    seconds: float

    def stats(self) -> dict:
        n = len(self.labels) + len(self.errors)
        return {"artists": n, "labelled": len(self.labels), "errors": len(self.errors),
                "seconds": round(self.seconds, 1), "artists_per_s": round(n / self.seconds, 2) if self.seconds else 0.0,
                "error_kinds": dict(Counter(e.split(":", 1)[0] for e in self.errors.values()))}


async def label_artists(backend, cards: list[ArtistCard], concurrency: int = 16,
                        progress: Callable[[int], None] | None = None, max_tokens: int = MAX_TOKENS) -> LabelRun:
    """One constrained call per artist, `concurrency` in flight (the engine batches them).
    A failed artist is recorded with its error, never dropped silently."""
    tmpl, schema = template(), label_schema()
    sem = asyncio.Semaphore(concurrency)
    labels: dict[str, ArtistLabel] = {}
    errors: dict[str, str] = {}
    t0 = time.monotonic()

    async def one(card: ArtistCard) -> None:
        async with sem:
            try:
                text = await backend.complete_json(card.text(), tmpl, schema, max_tokens)
                labels[card.name] = parse_label(card.name, text)
            except Exception as e:  # recorded per artist: one bad answer must not lose the run
                errors[card.name] = f"{type(e).__name__}: {e}"[:300]
            if progress:
                progress(1)

    await asyncio.gather(*(one(c) for c in cards))
    order = [c.name for c in cards]
    return LabelRun([labels[a] for a in order if a in labels], {a: errors[a] for a in order if a in errors},
                    time.monotonic() - t0)


def write_labels(run: LabelRun, meta: dict, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(json.dumps({"meta": {**meta, "prompt": PROMPT_VERSION, **run.stats()}}) + "\n")
        for lab in run.labels:
            f.write(json.dumps(lab.as_dict(), ensure_ascii=False) + "\n")
        for artist, err in run.errors.items():
            f.write(json.dumps({"artist": artist, "error": err}, ensure_ascii=False) + "\n")
    tmp.replace(p)
    return p


def read_labels(path: str | Path) -> tuple[dict, list[ArtistLabel]]:
    """(meta, labels) from a labels file; rows that record an error are skipped."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"LLM labels file {p} does not exist; make one with `segue label-artists --out {p}`")
    meta: dict = {}
    out = []
    for i, line in enumerate(p.read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        d = json.loads(line)
        if "meta" in d:
            meta = d["meta"]
        elif "error" not in d:
            try:
                out.append(label_from_dict(d["artist"], d))
            except (KeyError, LabelError) as e:
                raise ValueError(f"{p}:{i + 1}: not a label row ({e})") from e
    return meta, out


def key_suffix(labels: Iterable[ArtistLabel], weight: float) -> str:
    """What labels add to the enrichment key (a content hash; nothing without labels): an enrichment
    built from other labels, or at another weight, is cached apart."""
    import hashlib

    labels = sorted(labels, key=lambda x: x.artist)
    if not labels:
        return ""
    h = hashlib.sha256(f"{PROMPT_VERSION}|{weight}".encode())
    for lab in labels:
        h.update(json.dumps(lab.as_dict(), sort_keys=True).encode())
    return f"-llm{h.hexdigest()[:10]}"


def artist_votes(labels: Iterable[ArtistLabel], weight: float = W_LLM) -> list[tuple[str, str, float]]:
    """(artist key, label, weight): the genres share `weight`, the decade gets it whole."""
    out = []
    for lab in labels:
        if not lab.key:
            continue
        for g in lab.genres:
            out.append((lab.key, f"genre:{g}", weight / len(lab.genres)))
        if lab.decade:
            out.append((lab.key, f"decade:{lab.decade[:-1]}", weight))
    return out
