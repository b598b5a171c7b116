"""Load a track catalog (JSONL or Parquet) into validated Track objects.

A malformed file is rejected as a whole, with the line/row and field named,
because a half-loaded catalog would silently serve a different product.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from serving.schemas import Track

REQUIRED = ("track_id", "title", "artists")
KNOWN = {"track_id", "title", "artists", "album", "year", "tags", "cluster_id", "features"}


class CatalogError(ValueError):
    """The catalog file is missing or malformed; the message names where."""


@dataclass(frozen=True)
class Catalog:
    tracks: tuple[Track, ...]
    fingerprint: str
    source: str

    def __len__(self) -> int:
        return len(self.tracks)

    @property
    def version(self) -> str:
        return f"catalog-{self.fingerprint[:12]}"


def default_catalog_path() -> Path:
    return Path(str(resources.files("serving.catalog") / "data" / "cpcd_catalog.jsonl"))


def load_catalog(path: str | Path | None = None) -> Catalog:
    p = Path(path).expanduser() if path else default_catalog_path()
    if not p.is_file():
        raise CatalogError(f"catalog {p} does not exist; give a .jsonl or .parquet file")
    raw = p.read_bytes()
    fingerprint = hashlib.sha256(raw).hexdigest()
    suffix = p.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        rows = _jsonl_rows(raw, p)
    elif suffix in (".parquet", ".pq"):
        rows = _parquet_rows(p)
    else:
        raise CatalogError(f"catalog {p}: unsupported extension '{suffix}'; use .jsonl or .parquet")
    tracks = tuple(_track(row, where, p) for where, row in rows)
    if not tracks:
        raise CatalogError(f"catalog {p} holds no tracks")
    ids = set()
    for (where, _), t in zip(rows, tracks):
        if t.track_id in ids:
            raise CatalogError(f"catalog {p} {where}: duplicate track_id '{t.track_id}'")
        ids.add(t.track_id)
    return Catalog(tracks=tracks, fingerprint=fingerprint, source=str(p))


def _jsonl_rows(raw: bytes, p: Path) -> list[tuple[str, dict]]:
    rows = []
    for n, line in enumerate(raw.decode("utf-8", errors="strict").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise CatalogError(f"catalog {p} line {n}: not valid JSON ({e.msg} at column {e.colno})") from e
        if not isinstance(obj, dict):
            raise CatalogError(f"catalog {p} line {n}: expected a JSON object, got {type(obj).__name__}")
        rows.append((f"line {n}", obj))
    return rows


def _parquet_rows(p: Path) -> list[tuple[str, dict]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(p)
    except Exception as e:  # pyarrow raises several unrelated types for a bad file
        raise CatalogError(f"catalog {p}: not a readable Parquet file ({e})") from e
    return [(f"row {i}", row) for i, row in enumerate(table.to_pylist())]


def _track(row: dict, where: str, p: Path) -> Track:
    for f in REQUIRED:
        if row.get(f) in (None, "", []):
            raise CatalogError(f"catalog {p} {where}: required field '{f}' is missing or empty")
    data = {k: v for k, v in row.items() if k in KNOWN and v is not None}
    if isinstance(data.get("artists"), str):
        data["artists"] = [data["artists"]]
    try:
        return Track.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(x) for x in err["loc"])
        raise CatalogError(f"catalog {p} {where}: field '{field}': {err['msg']}") from e
