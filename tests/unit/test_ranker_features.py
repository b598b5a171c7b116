import math

import numpy as np
import pytest

from serving.intent.model import Intent
from serving.ranking.features import FEATURES, extract
from serving.ranking.priors import PriorDialog, Priors
from serving.schemas import Candidate, Track


def _c(tid, title, artist, dense, lex=0.0, rank=0):
    return Candidate(track=Track(track_id=tid, title=title, artists=[artist]), dense_score=dense, lexical_score=lex,
                     retrieval_rank=rank)


def test_features_by_hand():
    q = np.array([1.0, 0.0], dtype=np.float32)
    priors = Priors.build([
        PriorDialog("a", np.array([1.0, 0.0], np.float32), frozenset({"t:rain song|nina"}), frozenset({"nina"}),
                    frozenset({"t:rain song|nina", "t:other|bob"})),
        PriorDialog("b", np.array([0.0, 1.0], np.float32), frozenset({"t:rain song|nina"}), frozenset({"nina"})),
    ], dim=2)
    cands = [_c("1", "Rain Song", "Nina", 0.8, 1.0, 0), _c("2", "Jazz Night", "Bob", 0.5, 0.0, 1),
             _c("3", "Other", "Bob", 0.4, 0.0, -1)]
    intent = Intent(search_text="rainy jazz", genres=["jazz"], include_artists=["Bob"])
    X = extract(intent, cands, priors.query_stats(q))
    f = {name: X[:, i] for i, name in enumerate(FEATURES)}
    assert f["dense_gap"].tolist() == pytest.approx([0.0, -0.3, -0.4])
    assert f["artist_asked"].tolist() == [0, 1, 1]
    assert f["tag_hits"].tolist() == [0, 1, 0]  # "jazz" in "Jazz Night"
    assert f["pop_track"][0] == pytest.approx(math.log1p(2)) and f["pop_track"][1] == 0
    assert f["pop_artist"][0] == pytest.approx(math.log1p(2))
    assert f["seen_track"][2] == pytest.approx(math.log1p(1))  # "Other" by Bob was surfaced once
    # Only dialog "a" is similar (cosine 1; "b" is orthogonal): all neighbour weight is on its goal.
    assert f["knn_track"][0] == pytest.approx(1.0) and f["knn_track_max"][0] == pytest.approx(1.0)
    assert f["artist_share"].tolist() == pytest.approx([1 / 3, 2 / 3, 2 / 3])
    assert f["expanded"].tolist() == [0, 0, 1] and np.isnan(f["retrieval_rank"][2])
    # Leave-one-out: excluding dialog "a" removes its counts and its neighbour weight.
    X2 = extract(intent, cands, priors.query_stats(q, exclude=0))
    g = {name: X2[:, i] for i, name in enumerate(FEATURES)}
    assert g["pop_track"][0] == pytest.approx(math.log1p(1)) and g["seen_track"][2] == 0 and g["knn_track"][0] == 0
