"""Embedder runtimes side by side: torch (sentence-transformers) vs ONNX Runtime (fp32, int8),
ms per query at batch 1/8/32 with one thread (a Serve replica's share), on CPCD prompts,
and how far each runtime's vectors are from torch's."""

from __future__ import annotations

import tempfile
import time

import numpy as np

from serving.config import EmbedderConfig

RUNTIMES = {"torch": {}, "onnx fp32": {"runtime": "onnx"}, "onnx int8 (dynamic)": {"runtime": "onnx", "quantize": True}}


def run(prompts: list[str], batches: tuple[int, ...] = (1, 8, 32), seconds: float = 2.0) -> dict:
    import torch

    from serving.retrieval.embedder import make_embedder

    torch.set_num_threads(1)
    cache = tempfile.mkdtemp(prefix="segue-onnx-")
    out: dict = {}
    ref = None
    for name, over in RUNTIMES.items():
        emb = make_embedder(EmbedderConfig(onnx_cache_dir=cache, **over))
        sample = prompts[:64]
        vec = emb.encode(sample)
        ref = vec if ref is None else ref
        row = {"version": emb.version, "min_cos_to_torch": float((vec * ref).sum(1).min())}
        for b in batches:
            texts = [prompts[i % len(prompts)] for i in range(b)]
            emb.encode(texts)
            n, t0 = 0, time.perf_counter()
            c0 = time.process_time()
            while time.perf_counter() - t0 < seconds:
                emb.encode(texts)
                n += 1
            row[f"b{b}_ms"] = (time.perf_counter() - t0) * 1000 / (n * b)
            row[f"b{b}_cpu_ms"] = (time.process_time() - c0) * 1000 / (n * b)
        out[name] = row
    return out


def rows(res: dict, batches: tuple[int, ...] = (1, 8, 32)) -> list[list]:
    return [[name, *(r[f"b{b}_ms"] for b in batches), r["min_cos_to_torch"], r["version"]] for name, r in res.items()]


HEADERS = ["runtime", "ms/query batch 1", "ms/query batch 8", "ms/query batch 32", "min cosine to torch", "version"]
