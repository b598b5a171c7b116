"""Vector index over the catalog: build once, cache on disk, load in seconds.

The cache key covers everything that changes the vectors or the index: the
catalog bytes, the embedder version, the text template and the index kind. A
changed catalog therefore rebuilds; an unchanged one loads from disk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from serving.catalog.loader import Catalog
from serving.retrieval.embedder import Embedder
from serving.schemas import Track

log = logging.getLogger(__name__)

TEXT_TEMPLATE_VERSION = "t1"


def track_text(t: Track) -> str:
    """What a track 'says' to the embedder; versioned because it is part of the cache key."""
    text = f"{t.title} by {', '.join(t.artists)}"
    if t.album and t.album != t.title:
        text += f" from {t.album}"
    if t.tags:
        text += f" ({', '.join(t.tags)})"
    return text


@dataclass
class VectorIndex:
    index: faiss.Index
    vectors: np.ndarray  # kept for exact re-scoring of artist-expanded candidates
    key: str
    built: bool  # False when loaded from cache
    seconds: float

    @property
    def version(self) -> str:
        return f"{self.index_kind}-{self.key[:12]}"

    @property
    def index_kind(self) -> str:
        return "hnsw" if isinstance(self.index, faiss.IndexHNSWFlat) else "flat"

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.index.ntotal)
        scores, ids = self.index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def search_batch(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(nq, k) scores and ids for many queries in one call; missing hits have id -1."""
        k = min(k, self.index.ntotal)
        return self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)


def cache_key(catalog: Catalog, embedder: Embedder | str, index_kind: str) -> str:
    h = hashlib.sha256()
    version = embedder if isinstance(embedder, str) else embedder.version
    for part in (catalog.fingerprint, version, TEXT_TEMPLATE_VERSION, index_kind):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:24]


def _new_index(kind: str, dim: int) -> faiss.Index:
    if kind == "flat":
        return faiss.IndexFlatIP(dim)
    if kind == "hnsw":
        idx = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        idx.hnsw.efConstruction = 80
        idx.hnsw.efSearch = 128
        return idx
    raise ValueError(f"unknown index kind '{kind}'; use 'flat' or 'hnsw'")


def build_index(vectors: np.ndarray, kind: str) -> faiss.Index:
    idx = _new_index(kind, vectors.shape[1])
    idx.add(vectors)
    return idx


def embed_catalog(catalog: Catalog, embedder: Embedder, batch: int = 1024, progress=None) -> np.ndarray:
    texts = [track_text(t) for t in catalog.tracks]
    out = np.empty((len(texts), embedder.dim), dtype=np.float32)
    for start in range(0, len(texts), batch):
        chunk = texts[start : start + batch]
        out[start : start + len(chunk)] = embedder.encode(chunk)
        if progress:
            progress(len(chunk))
    return out


def load_or_build(
    catalog: Catalog, embedder: Embedder, kind: str, cache_dir: str | Path, progress=None
) -> VectorIndex:
    t0 = time.perf_counter()
    key = cache_key(catalog, embedder, kind)
    root = Path(cache_dir).expanduser() / "index"
    final = root / key
    if (final / "meta.json").is_file():
        try:
            vectors = np.load(final / "vectors.npy")
            index = faiss.read_index(str(final / "index.faiss"))
            if index.ntotal == len(catalog) == len(vectors):
                return VectorIndex(index, vectors, key, built=False, seconds=time.perf_counter() - t0)
            log.warning("index cache %s does not match the catalog size; rebuilding", final)
        except (OSError, RuntimeError, ValueError) as e:
            log.warning("index cache %s is unreadable (%s); rebuilding", final, e)

    vectors = embed_catalog(catalog, embedder, progress=progress)
    index = build_index(vectors, kind)
    return save_index(catalog, embedder.version, kind, cache_dir, vectors, index, time.perf_counter() - t0)


def save_index(
    catalog: Catalog, embedder_version: str, kind: str, cache_dir: str | Path, vectors: np.ndarray,
    index: faiss.Index, seconds: float = 0.0,
) -> VectorIndex:
    """Store a built index under its cache key (also used by the Ray Data indexing job)."""
    key = cache_key(catalog, embedder_version, kind)
    root = Path(cache_dir).expanduser() / "index"
    final = root / key
    root.mkdir(parents=True, exist_ok=True)
    # Write to a temp dir and rename: a crash mid-write never leaves a half cache
    # that a later start would trust, and concurrent builders do not collide.
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
    try:
        np.save(tmp / "vectors.npy", vectors)
        faiss.write_index(index, str(tmp / "index.faiss"))
        meta = {"key": key, "kind": kind, "embedder": embedder_version, "catalog": catalog.fingerprint,
                "tracks": len(catalog), "template": TEXT_TEMPLATE_VERSION, "built_at": time.time()}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
        if final.exists():
            shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return VectorIndex(index, vectors, key, built=True, seconds=seconds)
