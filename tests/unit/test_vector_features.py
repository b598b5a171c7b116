"""The vectorised ranking path computes what the per-candidate reference computes.

Real parts: the shipped catalog, the shipped ltr-v1 artifact (its LightGBM model and its
priors), BM25 candidates for real prompts, and the artifact's own stored query vectors
(real MiniLM embeddings of CPCD requests) as the requests' vectors.
"""

import numpy as np
import pytest

from serving.catalog.loader import load_catalog
from serving.intent.model import Intent, YearRange
from serving.ranking.diversity import recording_key, select_diverse, sequence
from serving.ranking.features import FEATURES, extract
from serving.ranking.ltr import LearnedRanker, RankerArtifact
from serving.ranking.priors import expand_candidates
from serving.ranking.vector_features import Pool, expand, features
from serving.retrieval.lexical import LexicalIndex
from serving.schemas import Candidate

INTENTS = [
    Intent(search_text="rainy sunday jazz", genres=["jazz"], moods=["calm", "sad"]),
    Intent(search_text="workout rock", genres=["rock", "rock"], activities=["workout"], energy=0.9),
    Intent(search_text="songs by taylor swift", include_artists=["Taylor Swift"]),
    Intent(search_text="80s pop hits", genres=["pop"], era=YearRange(start=1980, end=1989)),
    Intent(search_text="love songs", exclude_artists=["Adele"], exclude_terms=["live", "remix"]),
    Intent(search_text="zzzz qqqq"),
]


@pytest.fixture(scope="module")
def world():
    catalog = load_catalog()
    art = RankerArtifact.load("ltr-v1")
    ranker = LearnedRanker(art, max_per_artist=5, catalog=catalog, check_embedder=False)
    return catalog, art, ranker, LexicalIndex(catalog)


def _candidates(catalog, lexical, intent, q, art, k=200):
    """Real tracks for the prompt (BM25 hits, then the catalog's first tracks to fill up), with
    dense scores from the artifact's catalog vectors where it has them."""
    s = lexical.scores(intent.query_text())
    hits = lexical.search_scores(s, k).tolist()
    hits += [i for i in range(k * 2) if i not in set(hits)][: k - len(hits)]
    rng = np.random.default_rng(len(hits))
    vec_of = art.priors.vector_of
    out = []
    for r, i in enumerate(hits):
        t = catalog.tracks[i]
        v = vec_of.get(recording_key(t))
        dense = float(v @ q) if v is not None else float(rng.uniform(0.1, 0.6))
        out.append(Candidate(track=t, dense_score=float(np.float32(dense)), lexical_score=float(s[i] / max(s.max(), 1e-9)),
                             retrieval_rank=r))
    return out


def _pool(ranker, cands):
    rows = np.asarray([ranker.table.row_of[c.track.track_id] for c in cands])
    return Pool(rows, np.asarray([c.dense_score for c in cands], np.float32),
                np.asarray([c.lexical_score for c in cands], np.float32),
                np.asarray([c.retrieval_rank for c in cands], np.float32))


@pytest.mark.parametrize("exclude", [None, 3])
@pytest.mark.parametrize("which", range(len(INTENTS)))
def test_vector_features_equal_reference(world, which, exclude):
    catalog, art, ranker, lexical = world
    intent = INTENTS[which]
    q = art.priors.vectors[(which * 37) % len(art.priors.vectors)]
    cands = _candidates(catalog, lexical, intent, q, art)
    qp = art.priors.query_stats(q, exclude=exclude)
    ref_cands = expand_candidates(cands, qp, intent, recording_key)
    ref = extract(intent, ref_cands, qp)

    qa = ranker.prior_arrays.query(q, exclude=exclude)
    pool = expand(_pool(ranker, cands), qa, intent, ranker.table)
    assert [ranker.table.tracks[r].track_id for r in pool.rows] == [c.track.track_id for c in ref_cands]
    X = features(intent, pool, qa, ranker.table)
    assert X.shape == ref.shape and len(ref) > 200  # priors borrowed tracks
    for j, name in enumerate(FEATURES):
        np.testing.assert_allclose(X[:, j], ref[:, j], rtol=1e-6, atol=1e-7, err_msg=name)


def _reference_rank(art, intent, cands, q, length, mode, max_per_artist=5):
    """The per-candidate ranking path as it was before vectorisation (same primitives)."""
    qp = art.priors.query_stats(q)
    cands = expand_candidates(cands, qp, intent, recording_key)
    cols = [FEATURES.index(f) for f in art.features]
    s = np.asarray(art.model.predict(extract(intent, cands, qp)[:, cols], num_threads=1), dtype=np.float64)
    scored = [(float(s[i]), cands[i]) for i in np.argsort(-s, kind="stable").tolist()]
    picked = select_diverse(scored, length, track_of=lambda x: x[1].track,
                            max_per_artist=max_per_artist if mode == "playlist" else length,
                            uncapped_artists={a.lower() for a in intent.include_artists})
    ordered = sequence(picked, track_of=lambda x: x[1].track) if mode == "playlist" else picked
    return [(c.track.track_id, round(sc, 4)) for sc, c in ordered]


@pytest.mark.parametrize("length,mode", [(20, "playlist"), (5, "playlist"), (50, "playlist"), (10, "search")])
def test_vectorised_ranker_returns_the_reference_playlist(world, length, mode):
    catalog, art, ranker, lexical = world
    for which, intent in enumerate(INTENTS):
        q = art.priors.vectors[(which * 53) % len(art.priors.vectors)]
        cands = _candidates(catalog, lexical, intent, q, art)
        got = ranker.rank(intent, cands, length, mode, query_vector=q)
        assert [(t.track_id, t.score) for t in got] == _reference_rank(art, intent, cands, q, length, mode)
        assert all(t.reason for t in got)
