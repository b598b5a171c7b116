import numpy as np
import pytest

from tests.quality_fakes import HashEmbedder, write_tiny_cpcd
from serving.catalog.loader import load_catalog
from serving.config import HybridConfig
from serving.intent.model import Intent
from serving.retrieval.index import build_index, embed_catalog, VectorIndex
from serving.retrieval.lexical import LexicalIndex, fuse_rrf, fuse_weighted, normalise
from serving.retrieval.retriever import Retriever


def test_weighted_fusion_and_normalisation_by_hand():
    lex = normalise(np.array([0.0, 2.0, 4.0], dtype=np.float32))
    assert lex.tolist() == [0.0, 0.5, 1.0]
    fused = fuse_weighted(np.array([0.5, 0.4, 0.1], dtype=np.float32), lex, 0.2)
    assert fused.tolist() == pytest.approx([0.5, 0.5, 0.3])
    assert normalise(np.zeros(3)).tolist() == [0, 0, 0]


def test_rrf_by_hand_and_unretrieved_side_counts_zero():
    f = fuse_rrf(np.array([0, 1, -1]), np.array([-1, 0, 1]), weight=0.5, k=60)
    assert f[0] == pytest.approx(0.5 / 61)
    assert f[1] == pytest.approx(0.5 / 62 + 0.5 / 61)
    assert f[2] == pytest.approx(0.5 / 62)
    assert f[1] > f[0] > f[2]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    cat_path, _ = write_tiny_cpcd(tmp_path_factory.mktemp("cpcd"))
    cat = load_catalog(cat_path)
    emb = HashEmbedder()
    vecs = embed_catalog(cat, emb)
    return cat, emb, VectorIndex(build_index(vecs, "flat"), vecs, "k", built=True, seconds=0)


def test_bm25_finds_exact_names(tiny):
    cat, _, _ = tiny
    lex = LexicalIndex(cat)
    hits = lex.search("reggae band", 5)
    assert all("reggae" in cat.tracks[i].track_id for i in hits.ids.tolist())
    assert np.all(np.diff(hits.scores) <= 0)
    assert lex.scores("zzzz qqq").sum() == 0


def test_hybrid_adds_lexical_hits_dense_missed_and_carries_lexical_scores(tiny):
    cat, emb, idx = tiny
    dense = Retriever(cat, emb, idx)
    hybrid = Retriever(cat, emb, idx, lexical=LexicalIndex(cat), hybrid=HybridConfig(enabled=True, weight=0.5, lexical_k=20))
    intent = Intent(search_text="Disco Song 3")
    d = dense.search(intent, 3)
    h = hybrid.search(intent, 3)
    assert all(c.lexical_score == 0 for c in d)
    assert h[0].track.track_id == "disco-3"
    assert h[0].lexical_score == pytest.approx(1.0)
    assert [c.retrieval_rank for c in h] == [0, 1, 2]
    assert "lexical" in hybrid.versions and "lexical" not in dense.versions


def test_hybrid_respects_intent_filters(tiny):
    cat, emb, idx = tiny
    hybrid = Retriever(cat, emb, idx, lexical=LexicalIndex(cat), hybrid=HybridConfig(enabled=True, fusion="rrf"))
    out = hybrid.search(Intent(search_text="jazz band", exclude_artists=["The Jazz Band 0"]), 30)
    assert out and all(c.track.artists[0] != "The Jazz Band 0" for c in out)


def test_disabled_hybrid_is_plain_dense(tiny):
    cat, emb, idx = tiny
    r = Retriever(cat, emb, idx, lexical=LexicalIndex(cat), hybrid=HybridConfig(enabled=False))
    assert r.lexical is None
