"""Retrieval at scale: exact (flat) vs ANN (HNSW, IVF) on synthetic clustered vectors,
with the product's filter path (over-fetch, then drop filtered tracks)."""

from __future__ import annotations

import os
import time

import faiss
import numpy as np

from serving.tools.bench.report import pct, table


def synthetic_vectors(n: int, dim: int = 384, clusters: int = 2000, seed: int = 0) -> np.ndarray:
    # Real track embeddings are clustered (genres, artists); uniform random vectors would
    # make every ANN look worse than it is.
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((clusters, dim)).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for s in range(0, n, step):
        m = min(step, n - s)
        out[s : s + m] = centers[rng.integers(0, clusters, m)] + 0.6 * rng.standard_normal((m, dim)).astype(np.float32)
    faiss.normalize_L2(out)
    return out


def _filtered_search(index, q, k, keep: np.ndarray, overfetch: int = 3):
    fetch = k * overfetch
    while True:
        _, ids = index.search(q.reshape(1, -1), fetch)
        ids = ids[0][ids[0] >= 0]
        kept = ids[keep[ids]]
        if len(kept) >= k or fetch >= index.ntotal:
            return kept[:k]
        fetch = min(fetch * 4, index.ntotal)


def _index_bytes(index) -> int:
    return int(faiss.serialize_index(index).nbytes)


def run(n: int, queries: int = 200, k: int = 100, seed: int = 0) -> dict:
    faiss.omp_set_num_threads(1)  # queries/s per core
    xb = synthetic_vectors(n, seed=seed)
    rng = np.random.default_rng(seed + 1)
    xq = xb[rng.integers(0, n, queries)] + 0.05 * rng.standard_normal((queries, xb.shape[1])).astype(np.float32)
    faiss.normalize_L2(xq)
    keep = rng.random(n) > 0.3  # ~30% of the catalog excluded by intent filters

    builds = {}
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    t = time.perf_counter()
    flat = faiss.IndexFlatIP(xb.shape[1])
    flat.add(xb)
    builds["flat (exact)"] = (flat, time.perf_counter() - t)
    t = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(xb.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 80
    hnsw.add(xb)
    hnsw.hnsw.efSearch = 256
    builds["hnsw M=32 ef=256"] = (hnsw, time.perf_counter() - t)
    t = time.perf_counter()
    nlist = int(4 * np.sqrt(n))
    quant = faiss.IndexFlatIP(xb.shape[1])
    ivf = faiss.IndexIVFFlat(quant, xb.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.train(xb[rng.choice(n, min(n, 50 * nlist), replace=False)])
    ivf.add(xb)
    ivf.nprobe = 32
    builds[f"ivf nlist={nlist} nprobe=32"] = (ivf, time.perf_counter() - t)
    faiss.omp_set_num_threads(1)

    truth, truth_f = [], []
    rows, out = [], {"n": n, "dim": xb.shape[1], "queries": queries, "k": k, "kept_fraction": float(keep.mean())}
    for name, (index, build_s) in builds.items():
        lat, lat_f, recall, recall_f = [], [], [], []
        for i, q in enumerate(xq):
            t = time.perf_counter()
            _, ids = index.search(q.reshape(1, -1), k)
            lat.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            ids_f = _filtered_search(index, q, k, keep)
            lat_f.append((time.perf_counter() - t) * 1000)
            if name.startswith("flat"):
                truth.append(set(ids[0].tolist()))
                truth_f.append(set(ids_f.tolist()))
            recall.append(len(truth[i] & set(ids[0].tolist())) / k)
            recall_f.append(len(truth_f[i] & set(ids_f.tolist())) / k)
        r = {"build_s": build_s, "recall@100": float(np.mean(recall)), "qps_per_core": 1000 / float(np.mean(lat)),
             "p99_ms": pct(lat, 99), "filtered_recall@100": float(np.mean(recall_f)),
             "filtered_qps_per_core": 1000 / float(np.mean(lat_f)), "filtered_p99_ms": pct(lat_f, 99),
             "memory_mib": _index_bytes(index) / 2**20}
        out[name] = r
        rows.append([name, r["recall@100"], r["qps_per_core"], r["p99_ms"], r["filtered_recall@100"],
                     r["filtered_qps_per_core"], r["filtered_p99_ms"], r["memory_mib"], r["build_s"]])
    out["table"] = table(
        ["index", "recall@100", "q/s/core", "p99 ms", "recall@100 (filtered)", "q/s/core (filtered)",
         "p99 ms (filtered)", "memory MiB", "build s"], rows)
    return out
