import pytest

from serving.catalog.loader import Catalog, load_catalog
from serving.intent.model import Intent, YearRange
from serving.retrieval.index import load_or_build
from serving.retrieval.retriever import Retriever
from serving.schemas import Track


@pytest.fixture(scope="module")
def small(embedder, tmp_path_factory):
    tracks = (
        Track(track_id="m1", title="Master of Puppets", artists=["Metallica"], year=1986),
        Track(track_id="m2", title="Enter Sandman", artists=["Metallica"], year=1991),
        Track(track_id="m3", title="Paranoid", artists=["Black Sabbath"], year=1970),
        Track(track_id="j1", title="So What", artists=["Miles Davis"], album="Kind of Blue", year=1959),
        Track(track_id="j2", title="Take Five", artists=["Dave Brubeck"], year=1959),
        Track(track_id="p1", title="Shake It Off", artists=["Taylor Swift"], year=2014),
        Track(track_id="p2", title="Sad Ballad", artists=["Someone"]),
    )
    cat = Catalog(tracks=tracks, fingerprint="f" * 64, source="memory")
    idx = load_or_build(cat, embedder, "flat", tmp_path_factory.mktemp("cache"))
    return Retriever(cat, embedder, idx)


def test_dense_search_finds_the_genre(small):
    got = [c.track.track_id for c in small.search(Intent(search_text="heavy metal"), 3)]
    assert set(got[:2]) <= {"m1", "m2", "m3"}


def test_excluded_artists_never_returned(small):
    got = small.search(Intent(search_text="heavy metal", exclude_artists=["metallica"]), 7)
    assert "Metallica" not in {a for c in got for a in c.track.artists}
    assert len(got) == 5


def test_era_filters_known_years_and_keeps_unknown(small):
    got = {c.track.track_id for c in small.search(Intent(search_text="music", era=YearRange(start=1950, end=1969)), 7)}
    assert got == {"j1", "j2", "p2"}


def test_excluded_terms_filter_titles(small):
    got = {c.track.track_id for c in small.search(Intent(search_text="songs", exclude_terms=["ballad"]), 7)}
    assert "p2" not in got


def test_requested_artist_tracks_are_candidates(small):
    got = small.search(Intent(search_text="jazz trumpet", include_artists=["Taylor Swift"]), 2)
    assert "p1" in {c.track.track_id for c in got} or len(got) == 2
    ranks = [c.retrieval_rank for c in got]
    assert ranks == sorted(ranks)


def test_index_cache_is_reused_and_rebuilt_on_change(embedder, tmp_path, mini_catalog_path):
    small_path = tmp_path / "small.jsonl"
    small_path.write_text("".join(mini_catalog_path.read_text().splitlines(keepends=True)[:100]))
    cat = load_catalog(small_path)
    first = load_or_build(cat, embedder, "flat", tmp_path)
    again = load_or_build(cat, embedder, "flat", tmp_path)
    assert first.built and not again.built and again.key == first.key
    changed_path = tmp_path / "changed.jsonl"
    changed_path.write_text(small_path.read_text().replace('"title": "', '"title": "X ', 1))
    changed = load_or_build(load_catalog(changed_path), embedder, "flat", tmp_path)
    assert changed.built and changed.key != first.key
    hnsw = load_or_build(cat, embedder, "hnsw", tmp_path)
    assert hnsw.built and hnsw.index_kind == "hnsw"


@pytest.fixture(scope="module")
def enriched(embedder, tmp_path_factory):
    from serving.catalog.enrichment.builder import build

    tracks = (
        Track(track_id="m1", title="Master of Puppets", artists=["Metallica"]),
        Track(track_id="m2", title="Heavy Metal Thunder", artists=["Metallica"]),
        Track(track_id="w1", title="Heavy Metal Love Song", artists=["Whitney Houston"]),
        Track(track_id="w2", title="Greatest Love of All", artists=["Whitney Houston"]),
        Track(track_id="k1", title="Heavy Metal Thunder (Karaoke Version)", artists=["Party Karaoke"]),
    )
    cat = Catalog(tracks=tracks, fingerprint="e" * 64, source="memory")
    idx = load_or_build(cat, embedder, "flat", tmp_path_factory.mktemp("cache"))
    dialogs = [{"id": f"{g}{i}", "goal_playlist": liked,
                "turns": [{"user_query": f"some {g} please", "liked_results": liked}]}
               for i in range(3) for g, liked in (("heavy metal", ["m1", "m2"]), ("pop", ["w1", "w2"]))]
    enr, _ = build(cat, idx.vectors, dialogs, embedder.version, "ev")
    return Retriever(cat, embedder, idx, enrichment=enr)


def test_after_a_like_the_genre_test_gives_way_but_stand_ins_and_exclusions_hold(enriched):
    """Whitney Houston is known pop: a metal request never retrieves her; once the listener likes
    a track, text matches are no longer held to the genre profiles (the feedback ranking orders
    them), while karaoke versions and excluded artists stay out. (The liked tracks' own neighbours
    are candidates whatever the genre, as before: retrieval rank -1.)"""
    from serving.retrieval import retriever as mod
    from serving.schemas import Feedback

    def retrieved(intent, feedback):  # text matches only, not the liked tracks' neighbours
        cands = enriched.search_feedback(intent, 5, feedback)
        assert "k1" not in {c.track.track_id for c in cands}
        return {c.track.track_id for c in cands if c.retrieval_rank >= 0}

    metal = Intent(search_text="heavy metal", genres=["metal"])
    assert {c.track.track_id for c in enriched.search(metal, 5)} == {"m1", "m2"}
    assert {"w1", "w2"} <= retrieved(metal, Feedback(liked=("m1",)))
    assert not {"w1", "w2"} & retrieved(metal, Feedback(disliked=("m2",)))  # no like yet: the test holds
    no_whitney = Intent(search_text="heavy metal", genres=["metal"], exclude_artists=["Whitney Houston"])
    assert not {"w1", "w2"} & {c.track.track_id for c in enriched.search_feedback(no_whitney, 5, Feedback(liked=("m1",)))}
    old, mod.LIKES_OVERRIDE_GENRE = mod.LIKES_OVERRIDE_GENRE, False
    try:
        assert not {"w1", "w2"} & retrieved(metal, Feedback(liked=("m1",)))
    finally:
        mod.LIKES_OVERRIDE_GENRE = old


def test_the_pool_takes_candidates_known_to_fit_before_any_other():
    """PREFER_KNOWN_AS_HEAD: unknown artists fill the pool's free places, never those of known-to-fit
    ones, and the pool keeps score order (retrieval rank is a ranker feature)."""
    import numpy as np

    score, ids = np.array([0.9, 0.8, 0.7, 0.6, 0.5]), np.array([10, 11, 12, 13, 14])
    assert ids[Retriever._top(score, ids, 3, {13, 14})].tolist() == [10, 13, 14]
    assert ids[Retriever._top(score, ids, 3, None)].tolist() == [10, 11, 12]
    assert ids[Retriever._top(score, ids, 9, {13})].tolist() == [10, 11, 12, 13, 14]
