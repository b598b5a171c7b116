"""Command-line helpers for the LLM backends: conversion with a progress bar, and
one-shot calls that wait for the engine (used by `segue intent` and scripts)."""

from __future__ import annotations

import asyncio
import sys
import time

from serving.config import AppConfig
from serving.intent.embedded_model import STEPS, convert, is_embedded
from serving.intent.service import IntentResult, IntentService

ONE_SHOT_DEADLINE_MS = 60_000


def convert_with_progress(name: str, models_dir: str, *, force: bool = False, quiet: bool = False):
    """`segue convert-llm`: a tqdm bar over the conversion steps; nothing happens when the cache is valid."""
    from tqdm import tqdm

    with tqdm(total=len(STEPS) - 1, desc=f"convert {name}", unit="step", disable=quiet, file=sys.stderr) as bar:
        def step(label: str) -> None:
            if label != STEPS[0]:
                bar.update(1)
            bar.set_postfix_str(label)

        return convert(name, models_dir, progress=step, force=force)


def prepare_llm(config: AppConfig, *, deadline_ms: int | None = None, quiet: bool = False) -> AppConfig:
    """For a one-shot LLM call: convert the embedded model if needed and use a generous deadline."""
    intent = config.intent
    if intent.backend == "fallback":
        return config
    if intent.backend == "vllm" and is_embedded(intent.vllm.model):
        convert_with_progress(intent.vllm.model, intent.vllm.models_dir, quiet=quiet)
    deadline = deadline_ms if deadline_ms is not None else max(intent.deadline_ms, ONE_SHOT_DEADLINE_MS)
    return config.model_copy(update={"intent": intent.model_copy(update={"deadline_ms": deadline})})


async def wait_backend_ready(service: IntentService, timeout_s: float = 900, quiet: bool = False) -> None:
    """Wait until an LLM backend has loaded (vLLM engines load in the background)."""
    backend = service.backend
    if backend is None or not hasattr(backend, "wait_ready"):
        return
    t0 = time.monotonic()
    if not quiet:
        print(f"segue: waiting for the {backend.name} engine to load", file=sys.stderr, flush=True)
    ok = await asyncio.to_thread(backend.wait_ready, timeout_s)
    if not quiet:
        print(f"segue: engine {'ready' if ok else 'NOT ready'} after {time.monotonic() - t0:.1f}s: "
              f"{backend.ready()[1]}", file=sys.stderr, flush=True)


async def run_once(service: IntentService, prompt: str, quiet: bool = False) -> IntentResult:
    try:
        await wait_backend_ready(service, quiet=quiet)
        return await service.parse(prompt)
    finally:
        if service.backend is not None:
            await service.backend.close()
