"""The enrichment job's map stages on Ray Data (`segue enrich --ray`), the engine of `segue index --ray`.

Dialogs -> evidence rows and tracks -> text attributes run as `map_batches` over a pool of actors
(each loads the fast parser with the catalog's artist names once); the driver then aggregates and
propagates over the per-artist tables, exactly as the in-process path does (same functions).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from serving.schemas import Track


class DialogBatch:
    """Ray Data actor: evidence rows and co-kept lists for a batch of dialogs (JSON strings)."""

    def __init__(self, artists: list[str]):
        from serving.catalog.enrichment.evidence import set_artists

        set_artists(artists)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from serving.catalog.enrichment.evidence import cooccurrence, dialog_evidence

        rows, kept = [], []
        for s in batch["dialog"]:
            d = json.loads(str(s))
            rows.append(json.dumps(dialog_evidence(d)))
            kept.append(json.dumps(cooccurrence(d)))
        return {"pos": batch["pos"], "rows": np.asarray(rows, dtype=object), "kept": np.asarray(kept, dtype=object)}


def track_batch(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    from serving.catalog.enrichment.builder import track_attrs

    out = [json.dumps(track_attrs(Track.model_validate_json(str(s)))) for s in batch["track"]]
    return {"pos": batch["pos"], "attrs": np.asarray(out, dtype=object)}


def ray_maps(actors: int = 2, batch_size: int = 64):
    """A `MapStages` for builder.build that runs both maps on Ray Data (Ray must be initialised)."""

    def maps(dialogs: list[dict], tracks: list[Track]):
        import pyarrow as pa
        import ray

        from serving.catalog.enrichment.builder import catalog_artists
        from serving.catalog.indexing import split_blocks

        dt = pa.table({"pos": np.arange(len(dialogs), dtype=np.int64), "dialog": [json.dumps(d) for d in dialogs]})
        ds = ray.data.from_arrow(split_blocks(dt, actors, batch_size)).map_batches(
            DialogBatch, fn_constructor_kwargs={"artists": catalog_artists(tracks)}, batch_size=batch_size,
            batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=1)
        rows_by: dict[int, Any] = {}
        kept_by: dict[int, Any] = {}
        for b in ds.iter_batches(batch_size=None, batch_format="numpy"):
            for p, r, k in zip(b["pos"].tolist(), b["rows"], b["kept"]):
                rows_by[p], kept_by[p] = json.loads(r), json.loads(k)
        tt = pa.table({"pos": np.arange(len(tracks), dtype=np.int64), "track": [t.model_dump_json() for t in tracks]})
        ts = ray.data.from_arrow(split_blocks(tt, actors, 1024)).map_batches(track_batch, batch_size=1024,
                                                                            batch_format="numpy", num_cpus=1)
        attrs: list[dict] = [{}] * len(tracks)
        for b in ts.iter_batches(batch_size=None, batch_format="numpy"):
            for p, a in zip(b["pos"].tolist(), b["attrs"]):
                attrs[p] = json.loads(a)
        if len(rows_by) != len(dialogs):
            raise RuntimeError(f"Ray Data returned {len(rows_by)} of {len(dialogs)} dialogs; the job lost batches")
        rows = [tuple(r) for p in range(len(dialogs)) for r in rows_by[p]]
        return rows, [kept_by[p] for p in range(len(dialogs))], attrs

    return maps
