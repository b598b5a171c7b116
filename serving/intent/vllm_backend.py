"""The `vllm` intent backend: vLLM's AsyncLLM inside the IntentModel replica.

Concurrent requests share one engine, which batches them continuously. Decoding
is constrained to the Intent JSON schema (serving/intent/llm_schema.py), so the
answer parses unless the engine runs out of tokens.

The engine loads in a background thread: the replica is up at once and answers
with the fast parser (`fallback_error`, reason `unavailable`) until the engine is
ready, and again while a dead engine is restarted. Nothing here ever makes a
playlist request fail; the IntentService turns every exception into a fallback.
"""

from __future__ import annotations

import gc
import itertools
import logging
import os
import threading
import time
from typing import Any

from serving.intent.backend import IntentBackend, IntentBackendUnavailable, IntentOutputError
from serving.intent.llm_config import VLLMConfig
from serving.intent.llm_schema import intent_json_schema, parse_intent
from serving.intent.model import Intent
from serving.intent.prompt_template import PromptTemplate, load_template
from serving.intent.prompted import PromptedBackend

log = logging.getLogger(__name__)


def configure_vllm_env(cfg: VLLMConfig) -> None:
    """Environment vLLM reads when it is imported / starts; set before the first import.

    AsyncLLM always runs its engine core in a child process (spawned on CPU, so
    the code that starts it needs a __main__ guard); with the "uni" executor the
    model runs inside that one child."""
    os.environ["VLLM_CPU_KVCACHE_SPACE"] = _gib(cfg.cpu_kv_cache_gib)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def _gib(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def engine_kwargs(cfg: VLLMConfig, model_dir: str) -> dict[str, Any]:
    """AsyncEngineArgs for this config (pure, so it can be tested without vLLM)."""
    kw: dict[str, Any] = dict(
        model=model_dir,
        tokenizer=model_dir,
        dtype=cfg.dtype,
        max_model_len=cfg.max_model_len,
        max_num_seqs=cfg.max_num_seqs,
        enforce_eager=cfg.enforce_eager,
        tensor_parallel_size=cfg.tensor_parallel_size,
        gpu_memory_utilization=cfg.gpu_memory_utilization,
        seed=cfg.seed,
        structured_outputs_config={"backend": "xgrammar", "disable_any_whitespace": True},
        disable_log_stats=True,
        trust_remote_code=False,
    )
    if cfg.tensor_parallel_size == 1:
        kw["distributed_executor_backend"] = "uni"
    return kw


class VLLMBackend(IntentBackend):
    name = "vllm"

    def __init__(self, cfg: VLLMConfig, model_dir: str, *, start: bool = True):
        self.cfg = cfg
        self.model_dir = model_dir
        self.template: PromptTemplate = load_template(cfg.prompt_version)
        self._engine = None
        self._chat: bool | None = None
        self._tokenizer = None
        self._state = "stopped"  # stopped | loading | ready | failed
        self._error: str | None = None
        self._lock = threading.Lock()
        self._loaded = threading.Event()
        self._ids = itertools.count()
        self._pending = 0
        self._schema = intent_json_schema()
        self._params = None
        self._restart_at = 0.0
        self.engine_starts = 0
        if start:
            self.start()

    # --- lifecycle -----------------------------------------------------------
    def start(self) -> None:
        """Load the engine in a background thread (idempotent while loading/ready)."""
        with self._lock:
            if self._state in ("loading", "ready"):
                return
            self._state, self._error = "loading", None
            self._loaded.clear()
        threading.Thread(target=self._load, name="vllm-engine-loader", daemon=True).start()

    def _load(self) -> None:
        t0 = time.monotonic()
        try:
            engine = self._create_engine()
            tokenizer = engine.tokenizer
            chat = self.cfg.prompt_format == "chat" or (
                self.cfg.prompt_format == "auto" and getattr(tokenizer, "chat_template", None) is not None
            )
            self._tokenizer, self._chat = tokenizer, chat
            self._params = self._sampling_params(structured=self.cfg.structured_outputs)
            self._engine = engine
            self.engine_starts += 1
            with self._lock:
                self._state = "ready"
            log.info("vLLM engine ready in %.1fs (%s, %s prompts)", time.monotonic() - t0, self.model_dir,
                     "chat" if chat else "completion")
        except Exception as e:  # reported by ready(); requests fall back meanwhile
            log.exception("vLLM engine failed to start")
            with self._lock:
                self._state, self._error = "failed", f"{type(e).__name__}: {e}"
                self._restart_at = time.monotonic() + self.cfg.restart_backoff_s
        finally:
            self._loaded.set()

    def _create_engine(self):
        configure_vllm_env(self.cfg)
        from vllm.engine.arg_utils import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        return AsyncLLM.from_engine_args(AsyncEngineArgs(**engine_kwargs(self.cfg, self.model_dir)))

    def _sampling_params(self, structured: bool, schema: dict | None = None, max_tokens: int | None = None):
        from vllm.sampling_params import SamplingParams, StructuredOutputsParams

        return SamplingParams(
            max_tokens=max_tokens or self.cfg.max_tokens,
            temperature=self.cfg.temperature,
            # Few-shot text puts one intent per line: a base model would go on to
            # invent the next "Request:" (a grammar ends the JSON by itself).
            stop=None if self._chat else ["\n"],
            seed=self.cfg.seed if self.cfg.temperature > 0 else None,
            structured_outputs=StructuredOutputsParams(json=schema or self._schema) if structured else None,
        )

    def wait_ready(self, timeout_s: float | None = None) -> bool:
        """Block until the engine has loaded (or failed); True if it is ready."""
        self._loaded.wait(timeout_s)
        return self._state == "ready"

    def ready(self) -> tuple[bool, str]:
        if self._state == "ready":
            return True, f"vllm engine ready ({self.model_dir})"
        if self._state == "failed":
            return False, f"vllm engine failed: {self._error}"
        return False, f"vllm engine {self._state}"

    @property
    def versions(self) -> dict[str, str]:
        return {"intent_backend": self.name, "intent_model": os.path.basename(self.model_dir.rstrip("/")),
                "intent_prompt": self.template.version}

    def shutdown(self) -> None:
        engine, self._engine = self._engine, None
        with self._lock:
            self._state = "stopped"
        if engine is not None:
            engine.shutdown()
            # Collect it now: AsyncLLM.__del__ at interpreter exit finds its module half torn down.
            del engine
            gc.collect()

    # --- requests ------------------------------------------------------------
    def with_prompt(self, version: str) -> IntentBackend:
        if version == self.template.version:
            return self
        return PromptedBackend(self, load_template(version))

    def render(self, prompt: str, template: PromptTemplate | None = None) -> str:
        template = template or self.template
        if self._chat:
            return self._tokenizer.apply_chat_template(
                template.messages(prompt), tokenize=False, add_generation_prompt=True
            )
        return template.completion(prompt)

    async def generate(self, prompt: str, template: PromptTemplate | None = None) -> Intent:
        text, finish = await self.generate_text(prompt, template=template)
        if finish == "length":
            raise IntentOutputError(f"output cut at max_tokens={self.cfg.max_tokens}: {text[:120]!r}")
        return parse_intent(text, prompt)

    async def complete_json(self, prompt: str, template: PromptTemplate, schema: dict, max_tokens: int) -> str:
        text, finish = await self.generate_text(prompt, template=template, schema=schema, max_tokens=max_tokens)
        if finish == "length":
            raise IntentOutputError(f"output cut at max_tokens={max_tokens}: {text[:120]!r}")
        return text

    async def generate_text(self, prompt: str, *, structured: bool | None = None,
                            template: PromptTemplate | None = None, schema: dict | None = None,
                            max_tokens: int | None = None) -> tuple[str, str | None]:
        """The raw completion and its finish reason ("stop", "length"); `schema`: decode under this
        JSON schema instead of the intent's."""
        engine = self._usable_engine()
        if self._pending >= self.cfg.max_pending:
            raise IntentBackendUnavailable(
                f"vllm engine overloaded: {self._pending} requests in flight (intent.vllm.max_pending)", "overloaded"
            )
        if schema is not None:  # built now: the stop words depend on the prompt format, known once loaded
            params = self._sampling_params(True, schema, max_tokens)
        elif structured is None or structured == self.cfg.structured_outputs:
            params = self._params
        else:
            params = self._sampling_params(structured)
        request_id = f"intent-{next(self._ids)}"
        self._pending += 1
        try:
            final = None
            # Cancelling this coroutine (the service's deadline) aborts the request in the engine.
            async for out in engine.generate(self.render(prompt, template), params, request_id=request_id):
                final = out
        except Exception:
            if getattr(engine, "errored", False):
                self._mark_dead(engine)
            raise
        finally:
            self._pending -= 1
        if final is None or not final.outputs:
            raise IntentBackendUnavailable("vllm engine returned no output", "engine_error")
        return final.outputs[0].text, final.outputs[0].finish_reason

    def _usable_engine(self):
        engine = self._engine
        if engine is not None and getattr(engine, "errored", False):
            self._mark_dead(engine)
            engine = None
        if engine is None or self._state != "ready":
            if self._state == "failed" and time.monotonic() >= self._restart_at:
                self.start()
            raise IntentBackendUnavailable(self.ready()[1], "unavailable")
        return engine

    def _mark_dead(self, engine) -> None:
        """The engine died (EngineDeadError): drop it and start a fresh one after the backoff."""
        with self._lock:
            if self._engine is not engine:
                return
            self._engine = None
            self._state, self._error = "failed", "engine died"
            self._restart_at = time.monotonic() + self.cfg.restart_backoff_s
        log.error("vLLM engine died; restarting in %.0fs, fast parser answers meanwhile", self.cfg.restart_backoff_s)
        try:
            engine.shutdown()
        except Exception:  # already dead: nothing left to release
            log.debug("shutdown of dead engine raised", exc_info=True)
