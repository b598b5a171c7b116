"""The vLLM intent backend on a GPU with a real instruct model.

Skipped unless a CUDA GPU, vLLM's CUDA build and a local instruct model directory
(SEGUE_GPU_INTENT_MODEL=/path/to/model; nothing is downloaded) are all present.
"""

import asyncio
import importlib.util
import os

import pytest

pytestmark = [pytest.mark.gpu, pytest.mark.llm]

MODEL = os.environ.get("SEGUE_GPU_INTENT_MODEL")


def _skip_reason() -> str | None:
    if importlib.util.find_spec("vllm") is None or importlib.util.find_spec("torch") is None:
        return "vLLM (CUDA build) not installed"
    import torch

    if not torch.cuda.is_available():
        return "no CUDA GPU"
    if not MODEL or not os.path.isfile(os.path.join(MODEL, "config.json")):
        return "SEGUE_GPU_INTENT_MODEL does not name a local model directory"
    return None


if _skip_reason():
    pytest.skip(_skip_reason(), allow_module_level=True)

CASES = [
    ("hi, id like some heavy metal to work out to", {"genres": "metal", "activities": "workout"}),
    ("rainy sunday jazz, nothing too upbeat", {"genres": "jazz"}),
    ("20 songs of 90s hip hop please", {"genres": "hip hop"}),
    ("songs like Adele for a breakup", {"include_artists": "Adele"}),
]


def test_real_instruct_model_gives_sensible_intents_within_the_deadline():
    from serving.intent.fallback import FastParser
    from serving.intent.llm_config import VLLMConfig
    from serving.intent.model import IntentSource
    from serving.intent.service import IntentService
    from serving.intent.vllm_backend import VLLMBackend

    cfg = VLLMConfig(model=MODEL, dtype="auto", gpu_memory_utilization=0.5, max_model_len=4096, enforce_eager=False)
    backend = VLLMBackend(cfg, MODEL)
    assert backend.wait_ready(900), backend.ready()
    service = IntentService(backend, FastParser(None, []), deadline_s=2.0)

    async def run():
        return await asyncio.gather(*(service.parse(p) for p, _ in CASES * 8))

    try:
        results = asyncio.run(run())
    finally:
        backend.shutdown()
    assert all(r.intent.source is IntentSource.llm for r in results), service.stats()
    for r, (_, expect) in zip(results, CASES * 8):
        for field, value in expect.items():
            assert value in getattr(r.intent, field), (field, r.intent)
