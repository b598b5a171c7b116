"""CPU per request of each stage in one process, unbatched (batch of one) vs batched, on the
same prompts and the same components as the default graph: what the stages cost without
any Serve/HTTP overhead, and what batching saves inside them."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from serving.config import AppConfig
from serving.ranking.base import RankItem


def run(prompts: list[str], n: int, batch_sizes: list[int], config: AppConfig | None = None) -> dict:
    import torch

    from serving.pipeline import InProcessStages, Pipeline

    torch.set_num_threads(1)  # as in a Serve replica with a fractional CPU (Ray sets OMP_NUM_THREADS=1)
    cfg = config or AppConfig()
    stages = InProcessStages.from_config(cfg)
    pipe = Pipeline(stages, cfg)
    ps = [prompts[i % len(prompts)] for i in range(n)]

    def once(batch: list[str]) -> dict[str, float]:
        t0 = time.process_time()
        irs = asyncio.run(stages.intent_service.parse_batch(batch, stages.retriever.embedder))
        t1 = time.process_time()
        k = pipe._k(20)
        sets = stages.retriever.search_batch([r.intent for r in irs], np.stack([r.query_vector for r in irs]),
                                             [k] * len(irs))
        t2 = time.process_time()
        stages.ranker.rank_batch([RankItem(r.intent, cs, 20, "playlist", r.query_vector) for r, cs in zip(irs, sets)],
                                 stages.retriever.catalog.tracks)
        t3 = time.process_time()
        return {"intent": t1 - t0, "retrieval": t2 - t1, "ranking": t3 - t2}

    once(ps[:4])  # warm-up (lazy tag masks, BLAS)
    out = {}
    for b in batch_sizes:
        tot = {"intent": 0.0, "retrieval": 0.0, "ranking": 0.0}
        for i in range(0, n, b):
            for k, v in once(ps[i:i + b]).items():
                tot[k] += v
        out[b] = {k: v * 1000 / n for k, v in tot.items()}
        out[b]["total"] = sum(out[b].values())
    return out


HEADERS = ["batch size", "intent CPU ms/req", "retrieval CPU ms/req", "ranking CPU ms/req", "total CPU ms/req"]


def rows(res: dict) -> list[list]:
    return [[b, r["intent"], r["retrieval"], r["ranking"], r["total"]] for b, r in res.items()]
