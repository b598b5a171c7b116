"""The enrichment artifact: per-artist and per-track attributes with their evidence, versioned.

Keyed like the index cache: the catalog bytes, the embedder version (its vectors shape the
artist graph), the evidence dialogs' bytes, the label taxonomy and the pipeline version
(bump PIPELINE_VERSION whenever the job's logic changes). Stored as
<root>/<key>/{artists.json.gz, tracks.json.gz, meta.json}, written atomically.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from serving.atomic_dir import publish_dir
from serving.text import norm

PIPELINE_VERSION = "e9"


def _taxonomy_fingerprint() -> str:
    # The labels are the taxonomy's names and keywords: a changed taxonomy is a changed artifact.
    from serving.intent.taxonomy import TAXONOMY

    return hashlib.sha256(repr(TAXONOMY).encode()).hexdigest()[:16]


def enrichment_key(catalog_fingerprint: str, embedder_version: str, evidence_fingerprint: str) -> str:
    h = hashlib.sha256()
    for part in (catalog_fingerprint, embedder_version, evidence_fingerprint, PIPELINE_VERSION, _taxonomy_fingerprint()):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:24]


def file_fingerprint(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def shipped_root() -> Path:
    return Path(str(resources.files("serving.catalog") / "enrichment" / "artifacts"))


@dataclass
class ArtistAttrs:
    name: str
    genres: dict[str, float]  # taxonomy genre name -> share of the artist's genre evidence
    confidence: float  # genre evidence from listeners (direct + via co-kept artists), in kept-track votes
    decades: dict[str, float] = field(default_factory=dict)
    decade_confidence: float = 0.0
    language: str | None = None
    energy: float | None = None
    moods: dict[str, float] = field(default_factory=dict)
    similar: list[tuple[str, float]] = field(default_factory=list)  # (display name, similarity)
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def from_listeners(self) -> bool:
        """Listeners gave evidence of this artist's genres: its tracks kept, disliked or found in a
        request that named a genre (direct votes), or other artists kept beside it. Otherwise its
        genres came from text neighbours (embedding edges) only."""
        return self.evidence.get("direct_genre_votes", 0) > 0 or self.evidence.get("co_artists", 0) > 0


@dataclass
class Enrichment:
    key: str
    artists: dict[str, ArtistAttrs]  # normalised name -> attributes
    tracks: dict[str, dict[str, Any]]  # track_id -> {"flags": {...}, "language": ..}
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return f"enrich-{PIPELINE_VERSION}-{self.key[:12]}"

    def artist(self, name: str) -> ArtistAttrs | None:
        return self.artists.get(norm(name))

    def save(self, root: str | Path) -> Path:
        def write(tmp: Path) -> None:
            with gzip.open(tmp / "artists.json.gz", "wt", encoding="utf-8", compresslevel=9) as f:
                json.dump({k: _artist_doc(a) for k, a in sorted(self.artists.items())}, f, separators=(",", ":"))
            with gzip.open(tmp / "tracks.json.gz", "wt", encoding="utf-8", compresslevel=9) as f:
                json.dump(dict(sorted(self.tracks.items())), f, separators=(",", ":"))
            (tmp / "meta.json").write_text(json.dumps({**self.meta, "key": self.key, "version": self.version},
                                                      indent=2, sort_keys=True))

        return publish_dir(root, self.key, write)

    @classmethod
    def load(cls, directory: str | Path) -> "Enrichment":
        d = Path(directory)
        meta = json.loads((d / "meta.json").read_text())
        with gzip.open(d / "artists.json.gz", "rt", encoding="utf-8") as f:
            artists = {k: _artist_from(v) for k, v in json.load(f).items()}
        with gzip.open(d / "tracks.json.gz", "rt", encoding="utf-8") as f:
            tracks = json.load(f)
        return cls(meta["key"], artists, tracks, meta)


def _artist_doc(a: ArtistAttrs) -> dict[str, Any]:
    doc = {"n": a.name, "g": a.genres, "c": a.confidence}
    if a.decades:
        doc.update(d=a.decades, dc=a.decade_confidence)
    if a.language:
        doc["l"] = a.language
    if a.energy is not None:
        doc["e"] = a.energy
    if a.moods:
        doc["m"] = a.moods
    if a.similar:
        doc["s"] = [[n, s] for n, s in a.similar]
    if a.evidence:
        doc["ev"] = a.evidence
    return doc


def _artist_from(v: dict[str, Any]) -> ArtistAttrs:
    return ArtistAttrs(name=v["n"], genres=v.get("g", {}), confidence=v.get("c", 0.0), decades=v.get("d", {}),
                       decade_confidence=v.get("dc", 0.0), language=v.get("l"), energy=v.get("e"),
                       moods=v.get("m", {}), similar=[(n, s) for n, s in v.get("s", [])], evidence=v.get("ev", {}))
