"""Catalog indexing as a Ray Data job: embedding batches on a pool of actors, then the index build.

Each actor loads the embedder once and embeds batches of track texts; Ray Data
streams batches through the pool (backpressure keeps memory flat), so the same
job scales from this laptop's 2 cores to a Ray cluster's GPUs (`num_gpus` per
actor) for a 10M-track catalog. The result is written to the same cache the
Retriever loads from, so a service started afterwards finds it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from serving.catalog.loader import Catalog
from serving.config import EmbedderConfig


class EmbedBatch:
    """Ray Data actor: one embedder per actor, reused for every batch it is given."""

    def __init__(self, embedder: dict[str, Any], factory: str | None = None):
        cfg = EmbedderConfig(**embedder)
        if factory:  # "module:callable" taking an EmbedderConfig (tests, other backends)
            import importlib

            mod, fn = factory.split(":")
            self._emb = getattr(importlib.import_module(mod), fn)(cfg)
        else:
            from serving.retrieval.embedder import make_embedder

            self._emb = make_embedder(cfg)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vecs = self._emb.encode([str(t) for t in batch["text"]])
        return {"pos": batch["pos"], "vector": vecs, "worker": np.full(len(vecs), os.getpid(), dtype=np.int64)}


@dataclass
class RayIndexStats:
    tracks: int
    seconds: float  # embedding + index build, excluding Ray start-up
    embed_seconds: float
    build_seconds: float
    actors: int
    batch_size: int
    workers_used: int = 0  # distinct actor processes that embedded at least one batch

    @property
    def tracks_per_s(self) -> float:
        return self.tracks / self.seconds if self.seconds > 0 else 0.0


def split_blocks(table, actors: int, batch_size: int) -> list:
    """Several blocks per actor: one block is one task, and a single block would keep all but one
    actor idle. Blocks hold whole batches, at most 8 of them, so memory per task stays small."""
    n = table.num_rows
    rows = min(batch_size * 8, max(1, -(-n // (actors * 4))))
    rows = max(rows, min(batch_size, -(-n // actors)))
    return [table.slice(i, rows) for i in range(0, n, rows)] or [table]


def embed_with_ray(
    texts: list[str],
    embedder: EmbedderConfig,
    dim: int,
    actors: int = 2,
    batch_size: int = 256,
    num_cpus_per_actor: float = 1.0,
    num_gpus_per_actor: float = 0.0,
    factory: str | None = None,
    progress=None,
    workers: set[int] | None = None,
) -> np.ndarray:
    """Vectors for `texts`, in order, computed by a Ray Data actor pool (Ray must be initialised)."""
    import pyarrow as pa
    import ray

    table = pa.table({"pos": np.arange(len(texts), dtype=np.int64), "text": texts})
    ds = ray.data.from_arrow(split_blocks(table, actors, batch_size)).map_batches(
        EmbedBatch,
        fn_constructor_kwargs={"embedder": embedder.model_dump(), "factory": factory},
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=num_cpus_per_actor,
        num_gpus=num_gpus_per_actor or None,
    )
    out = np.zeros((len(texts), dim), dtype=np.float32)
    done = 0
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        out[batch["pos"]] = batch["vector"]
        done += len(batch["pos"])
        if workers is not None:
            workers.update(int(w) for w in np.unique(batch["worker"]))
        if progress:
            progress(len(batch["pos"]))
    if done != len(texts):
        raise RuntimeError(f"Ray Data returned {done} vectors for {len(texts)} tracks; the job lost batches")
    return out


def index_with_ray(
    catalog: Catalog,
    embedder: EmbedderConfig,
    kind: str,
    cache_dir: str,
    actors: int = 2,
    batch_size: int = 256,
    num_cpus_per_actor: float = 1.0,
    num_gpus_per_actor: float = 0.0,
    factory: str | None = None,
    progress=None,
    embedder_version: str | None = None,
    dim: int | None = None,
):
    """Embed the catalog with Ray Data, build the index, and store it where the Retriever loads it.
    Returns (VectorIndex, RayIndexStats)."""
    from serving.retrieval.index import build_index, save_index, track_text

    if embedder_version is None or dim is None:
        # The driver needs the version (cache key) and dimension; loading the model once here is cheap.
        from serving.retrieval.embedder import make_embedder

        e = make_embedder(embedder)
        embedder_version, dim = e.version, e.dim
    texts = [track_text(t) for t in catalog.tracks]
    t0 = time.perf_counter()
    used: set[int] = set()
    vectors = embed_with_ray(texts, embedder, dim, actors, batch_size, num_cpus_per_actor, num_gpus_per_actor,
                             factory, progress, used)
    t1 = time.perf_counter()
    index = build_index(vectors, kind)
    t2 = time.perf_counter()
    vi = save_index(catalog, embedder_version, kind, cache_dir, vectors, index, seconds=t2 - t0)
    stats = RayIndexStats(len(texts), t2 - t0, t1 - t0, t2 - t1, actors, batch_size, len(used))
    return vi, stats


def run_ray_index(config, catalog: Catalog, actors: int = 2, batch_size: int = 256, num_cpus: int | None = None,
                  progress=None) -> dict[str, Any]:
    """`segue index --ray`: start (or join) Ray, run the job, report throughput."""
    import ray

    started = False
    if not ray.is_initialized():
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
        started = True
    try:
        r = config.retrieval
        vi, stats = index_with_ray(catalog, r.embedder, r.index_kind, r.cache_dir, actors=actors,
                                   batch_size=batch_size, progress=progress)
    finally:
        if started:
            ray.shutdown()
    return {"index": vi.version, "tracks": stats.tracks, "built": True, "seconds": round(stats.seconds, 2),
            "embed_seconds": round(stats.embed_seconds, 2), "build_seconds": round(stats.build_seconds, 2),
            "tracks_per_s": round(stats.tracks_per_s, 1), "actors": actors, "workers_used": stats.workers_used, "batch_size": batch_size, "engine": "ray-data"}
