#!/usr/bin/env python
"""Ray Data catalog indexing throughput on a synthetic catalog; prints a table.

    PYTHONPATH=. python scripts/bench_indexing.py --n 1000000 --actors 2 --batch-size 512
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--actors", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--num-cpus", type=int, default=2)
    ap.add_argument("--kind", default="flat", choices=["flat", "hnsw"])
    ap.add_argument("--baseline-sample", type=int, default=5000, help="tracks embedded in-process for comparison (0 = skip)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import ray

    from serving.catalog.indexing import index_with_ray
    from serving.catalog.loader import load_catalog
    from serving.catalog.synthetic import write_synthetic_catalog
    from serving.config import EmbedderConfig
    from serving.retrieval.embedder import make_embedder
    from serving.retrieval.index import track_text

    tmp = tempfile.mkdtemp(prefix="segue-bench-")
    t0 = time.perf_counter()
    path = write_synthetic_catalog(f"{tmp}/catalog.parquet", args.n)
    catalog = load_catalog(path)
    t_cat = time.perf_counter() - t0
    cfg = EmbedderConfig(batch_size=args.batch_size)
    emb = make_embedder(cfg)
    base = None
    if args.baseline_sample:
        texts = [track_text(t) for t in catalog.tracks[: args.baseline_sample]]
        t1 = time.perf_counter()
        emb.encode(texts)
        base = len(texts) / (time.perf_counter() - t1)
    ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
    try:
        _, stats = index_with_ray(catalog, cfg, args.kind, f"{tmp}/cache", actors=args.actors, batch_size=args.batch_size,
                                  embedder_version=emb.version, dim=emb.dim)
    finally:
        ray.shutdown()
    rows = [
        ("tracks", f"{stats.tracks:,}"),
        ("catalog generate+load (s)", f"{t_cat:.1f}"),
        ("ray data embed (s)", f"{stats.embed_seconds:.1f}"),
        (f"faiss {args.kind} build (s)", f"{stats.build_seconds:.1f}"),
        ("total (s)", f"{stats.seconds:.1f}"),
        ("tracks/s (ray data, end to end)", f"{stats.tracks_per_s:,.0f}"),
        ("actors x batch (actors that worked)", f"{args.actors} x {args.batch_size} ({stats.workers_used})"),
        (f"tracks/s in-process, {args.baseline_sample} sample", f"{base:,.0f}" if base else "-"),
    ]
    w = max(len(k) for k, _ in rows)
    print("| measure".ljust(w + 2) + " | value |\n|" + "-" * (w + 2) + "|-------|")
    for k, v in rows:
        print(f"| {k.ljust(w)} | {v} |")
    print(json.dumps({"tracks": stats.tracks, "tracks_per_s": round(stats.tracks_per_s, 1), "embed_s": round(stats.embed_seconds, 1),
                      "build_s": round(stats.build_seconds, 1), "inprocess_tracks_per_s": round(base or 0, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
