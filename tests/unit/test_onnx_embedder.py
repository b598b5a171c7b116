"""The ONNX Runtime embedder: exported here from the packaged MiniLM weights (never downloaded),
cached, and equal to the torch embedder's vectors (same version, so indexes stay valid)."""

import numpy as np
import pytest

from serving.config import EmbedderConfig
from serving.retrieval.embedder import embedder_version, make_embedder

TEXTS = ["rainy sunday jazz, nothing too upbeat", "heavy metal to work out to", "songs from Lojay", "x",
         "a much longer request about eighties synthpop for a long morning run by the sea " * 20]


@pytest.fixture(scope="module")
def onnx_cfg(tmp_path_factory):
    return EmbedderConfig(runtime="onnx", onnx_cache_dir=str(tmp_path_factory.mktemp("onnx")))


def test_onnx_vectors_equal_torch_and_keep_its_version(onnx_cfg, embedder):
    onnx = make_embedder(onnx_cfg)
    assert onnx.path.is_file() and onnx.path.parent == __import__("pathlib").Path(onnx_cfg.onnx_cache_dir)
    a, b = embedder.encode(TEXTS), onnx.encode(TEXTS)
    assert a.shape == b.shape == (len(TEXTS), 384)
    assert np.abs(a - b).max() < 1e-4 and (a * b).sum(1).min() > 0.99999
    assert onnx.version == embedder.version == embedder_version(onnx_cfg)
    # A second start loads the cached export instead of exporting again.
    mtime = onnx.path.stat().st_mtime_ns
    assert make_embedder(onnx_cfg).path.stat().st_mtime_ns == mtime


def test_int8_is_close_but_has_its_own_version(onnx_cfg, embedder):
    q = make_embedder(onnx_cfg.model_copy(update={"quantize": True}))
    assert q.version.endswith("-int8") and q.version != embedder.version
    assert q.version == embedder_version(onnx_cfg.model_copy(update={"quantize": True}))
    cos = (q.encode(TEXTS) * embedder.encode(TEXTS)).sum(1)
    assert cos.min() > 0.85  # measured 0.92-0.97: close, not equal (so not the default)
