"""A "like X" playlist holds only its head, and is shorter when the head's tracks run out
(`filters.LIKE_HEAD_ONLY`): X and its neighbours, or without neighbours the artists known to fit X's
genres.

Real parts: the shipped catalog and ltr-v1 artifact, BM25 candidates; the enrichment is a small
hand-made one, so the test says which artists are X's neighbours.
"""

import pytest

from serving.catalog.enrichment.artifact import ArtistAttrs, Enrichment
from serving.catalog.loader import load_catalog
from serving.intent.model import Intent
from serving.ranking.ltr import LearnedRanker, RankerArtifact
from serving.retrieval import filters
from serving.retrieval.lexical import LexicalIndex
from serving.schemas import Candidate
from serving.text import norm

HEARD = {"direct_genre_votes": 3.0}


@pytest.fixture(scope="module")
def world():
    catalog = load_catalog()
    art = RankerArtifact.load("ltr-v1")
    enr = Enrichment("k", {
        "black sabbath": ArtistAttrs("Black Sabbath", {"metal": 0.7, "rock": 0.3}, 9.0,
                                     similar=[("Metallica", 0.7)], evidence=HEARD),
        "metallica": ArtistAttrs("Metallica", {"metal": 0.6, "rock": 0.4}, 9.0, evidence=HEARD),
    }, {})
    ranker = LearnedRanker(art, max_per_artist=2, catalog=catalog, check_embedder=False, enrichment=enr)
    return catalog, art, ranker, LexicalIndex(catalog)


def _candidates(catalog, lexical, text, k=300):
    """BM25 hits for the text, then the catalog's first tracks: most are by neither band."""
    s = lexical.scores(text)
    hits = lexical.search_scores(s, k).tolist()
    hits += [i for i in range(k * 2) if i not in set(hits)][: k - len(hits)]
    return [Candidate(track=catalog.tracks[i], dense_score=0.5 - 0.001 * r, lexical_score=float(s[i] / max(s.max(), 1e-9)),
                      retrieval_rank=r) for r, i in enumerate(hits)]


def _leads(tracks):
    return {norm(t.artists[0]) for t in tracks}


def test_a_like_x_playlist_holds_only_x_and_its_neighbours_and_ends_with_them(world):
    catalog, art, ranker, lexical = world
    q = art.priors.vectors[0]
    intent = Intent(search_text="black sabbath", similar_artists=["Black Sabbath"])
    cands = _candidates(catalog, lexical, "black sabbath metallica")
    got = ranker.rank(intent, cands, 20, "playlist", query_vector=q)
    assert got and _leads(got) <= {"black sabbath", "metallica"}
    # Five each at most (the like-X cap), so the playlist is shorter than asked rather than filled.
    assert len(got) < 20 and _leads(got) == {"black sabbath", "metallica"}
    but_not = Intent(search_text="black sabbath", similar_artists=["Black Sabbath"], exclude_artists=["Black Sabbath"])
    assert _leads(ranker.rank(but_not, cands, 20, "playlist", query_vector=q)) == {"metallica"}
    # Search results, and the rule switched off, fill up as before.
    assert len(ranker.rank(intent, cands, 20, "search", query_vector=q)) == 20
    try:
        filters.LIKE_HEAD_ONLY = False
        filled = ranker.rank(intent, cands, 20, "playlist", query_vector=q)
        assert not _leads(filled) <= {"black sabbath", "metallica"}
    finally:
        filters.LIKE_HEAD_ONLY = True


def test_like_x_without_neighbours_holds_the_artists_known_to_fit_its_genres(world):
    # Nobody is known beside Metallica here, so its genres are the only evidence of likeness: the
    # playlist's head is the artists known to fit them, and nothing follows it.
    catalog, art, ranker, lexical = world
    q = art.priors.vectors[0]
    intent = Intent(search_text="metallica", similar_artists=["Metallica"])
    assert filters.head_artists(intent, filters.constraints(intent, ranker.enrichment)) is None
    cands = _candidates(catalog, lexical, "metallica")
    got = ranker.rank(intent, cands, 20, "playlist", query_vector=q)
    assert _leads(got) == {"metallica", "black sabbath"} and len(got) < 20
    try:
        filters.LIKE_HEAD_ONLY = False
        assert len(ranker.rank(intent, cands, 20, "playlist", query_vector=q)) == 20  # filled with unknown acts
    finally:
        filters.LIKE_HEAD_ONLY = True
