"""Ranking with session feedback over a small hand-made candidate list."""

import math

import numpy as np

import pytest

from serving.intent.model import Intent
from serving.ranking.base import Ranker
from serving.ranking.feedback import CoOccurrence, FeedbackRanking
from serving.schemas import Candidate, Feedback, RankedTrack, Track


class ScoreOrder(Ranker):
    """Ranks by dense score: the simplest real ranker, so the feedback's effect is visible."""

    version = "score-order"

    def rank(self, intent, candidates, length, mode="playlist"):
        out = sorted(candidates, key=lambda c: -c.dense_score)[:length]
        return [RankedTrack(track_id=c.track.track_id, title=c.track.title, artists=list(c.track.artists),
                            album=None, score=c.dense_score, reason="base") for c in out]


def cand(tid, artist, score, liked_sim=0.0, disliked_sim=0.0, title=None, cluster=None):
    return Candidate(track=Track(track_id=tid, title=title or f"song {tid}", artists=[artist], cluster_id=cluster),
                     dense_score=score, retrieval_rank=0, liked_sim=liked_sim, disliked_sim=disliked_sim)


CANDS = [
    cand("a", "A", 0.9), cand("b", "B", 0.8), cand("c", "C", 0.7, liked_sim=0.2),
    cand("d", "D", 0.6, liked_sim=0.9), cand("e", "E", 0.5), cand("l", "L", 0.1, liked_sim=1.0),
    cand("x", "X", 0.95, disliked_sim=1.0, cluster="k1"), cand("x2", "X2", 0.85, cluster="k1"),
    cand("y", "Y", 0.88, disliked_sim=0.97), cand("l2", "L", 0.45),
]


def ids(tracks):
    return [t.track_id for t in tracks]


def test_without_feedback_the_ranker_answers_alone():
    r = FeedbackRanking(ScoreOrder())
    assert ids(r.rank(Intent(search_text="q"), CANDS, 3, Feedback(), 5)) == ["x", "a", "y"]


def test_dislikes_and_their_copies_never_return_liked_stay_on_top_and_pull_neighbours():
    r = FeedbackRanking(ScoreOrder())
    out = ids(r.rank(Intent(search_text="q"), CANDS, 10, Feedback(liked=("l",), disliked=("x",)), 5))
    assert out[0] == "l"
    assert "x" not in out and "x2" not in out  # same recording (cluster k1) as the disliked track
    assert "y" not in out  # a near-identical vector to a disliked track
    assert out.index("d") < out.index("b")  # close to the liked track: pulled above a better base score
    assert out.index("l2") < out.index("e")  # the liked track's artist


def test_kept_tracks_come_first_in_order():
    r = FeedbackRanking(ScoreOrder())
    out = ids(r.rank(Intent(search_text="q"), CANDS, 5, Feedback(keep=("e", "c")), 5))
    assert out[:2] == ["e", "c"] and len(out) == 5


def test_cooccurrence_counts_shared_playlists():
    co = CoOccurrence([frozenset({"p", "q", "r"}), frozenset({"p", "q"}), frozenset({"s"})],
                      [frozenset({"P", "Q"}), frozenset({"P"}), frozenset({"S"})])
    t = co.tracks(["p"])
    assert t["q"] == pytest.approx(1 / math.log2(4) + 1 / math.log2(3)) and t["r"] == pytest.approx(0.5)
    assert "s" not in t and "p" not in t
    assert co.artists(["P"])["Q"] == pytest.approx(0.5)


def test_liked_artists_have_their_own_diversity_cap():
    from serving.ranking.feedback import FeedbackWeights

    many = [cand("l", "L", 0.1, liked_sim=1.0)] + [cand(f"l{i}", "L", 0.9 - i / 100, title=f"L song {i}") for i in range(12)]
    others = [cand(f"o{i}", f"O{i}", 0.5 - i / 100, title=f"O song {i}") for i in range(12)]
    fb = Feedback(liked=("l",))

    def n_by_l(weights):
        out = FeedbackRanking(ScoreOrder(), weights).rank(Intent(search_text="q"), many + others, 12, fb, 3)
        assert out[0].track_id == "l"
        return sum(t.artists == ["L"] for t in out[1:])

    assert n_by_l(FeedbackWeights(liked_artist_cap=0)) == 3  # the usual cap
    assert n_by_l(FeedbackWeights(liked_artist_cap=6)) == 6
    assert n_by_l(FeedbackWeights(liked_artist_cap=2)) == 3  # never below the usual cap


def _unit(*xs):
    v = np.asarray(xs, np.float32)
    return v / np.linalg.norm(v)


class PriorsOrder(ScoreOrder):
    """ScoreOrder with priors, so the feedback borrows co-occurring tracks retrieval missed."""

    def __init__(self, priors):
        self.artifact = type("Artifact", (), {"priors": priors})()


def test_borrowed_copies_of_a_disliked_track_drop_by_the_vectors_retrieval_sends():
    from serving.ranking.diversity import recording_key
    from serving.ranking.priors import PriorDialog, Priors
    from serving.schemas import FeedbackVectors

    liked = Track(track_id="l", title="song l", artists=["L"])
    other = Track(track_id="f", title="song f", artists=["F"])  # never retrieved, not like the disliked one
    copy = Track(track_id="z", title="song z (live)", artists=["Z"])  # never retrieved, a copy of the disliked one
    dv = _unit(0, 0, 1)
    items = tuple((recording_key(t), t, v) for t, v in [(liked, _unit(1, 0, 0)), (other, _unit(0, 1, 0)),
                                                        (copy, _unit(0, 0.01, 1))])
    # One training playlist holds them all: the feedback borrows the two retrieval missed.
    priors = Priors.build([PriorDialog("d0", np.zeros(3, np.float32), frozenset(k for k, _, _ in items),
                                       frozenset({"l", "f", "z"}), goal_items=items)], 3)
    retrieved = [Candidate(track=liked, dense_score=0.1, retrieval_rank=0, liked_sim=1.0),
                 cand("x", "X", 0.5, disliked_sim=1.0), cand("o", "O", 0.4)]
    fb = Feedback(liked=("l",), disliked=("x",))
    r = FeedbackRanking(PriorsOrder(priors))
    out = ids(r.rank(Intent(search_text="q"), retrieved, 5, fb, 5, vectors=FeedbackVectors(dv[None, :])))
    assert out[0] == "l" and "f" in out and "z" not in out and "x" not in out
    # Without the vectors (an older Retriever) only the recording key guards, and the copy comes back.
    assert "z" in ids(r.rank(Intent(search_text="q"), retrieved, 5, fb, 5))


def test_an_asked_artist_appears_even_below_a_liked_artists_tracks():
    """"add some Ed Sheeran" after liking a prolific artist: the liked artist's twenty tracks
    outscore the asked artist's, yet the asked artist's best tracks are in the playlist."""
    many = [cand("l", "L", 0.1, liked_sim=1.0)] + [cand(f"l{i}", "L", 0.9 - i / 100, title=f"L song {i}") for i in range(20)]
    asked = [cand(f"s{i}", "Ed Sheeran", 0.2 - i / 100, title=f"S song {i}") for i in range(5)]
    r = FeedbackRanking(ScoreOrder())
    fb = Feedback(liked=("l",))
    plain = ids(r.rank(Intent(search_text="q"), many + asked, 10, fb, 30))
    assert not any(t.startswith("s") for t in plain)  # without the ask they do not make the cut
    out = ids(r.rank(Intent(search_text="q", include_artists=["Ed Sheeran"]), many + asked, 10, fb, 30))
    assert out[0] == "l" and [t for t in out if t.startswith("s")] == ["s0", "s1", "s2"]


def test_tracks_from_a_liked_tracks_album_are_pulled_up_and_singles_are_no_album():
    from serving.ranking.feedback import FeedbackWeights, album_key

    def on(tid, artist, score, album, title=None):
        return Candidate(track=Track(track_id=tid, title=title or f"song {tid}", artists=[artist], album=album),
                         dense_score=score, retrieval_rank=0)

    cands = [on("liked", "L", 0.1, "Night Drive"), on("other", "O", 0.9, "Elsewhere"),
             on("same", "S", 0.5, "Night Drive"), on("single", "T", 0.8, "Song Single", title="Song Single")]
    fb = Feedback(liked=("liked",))
    plain = ids(FeedbackRanking(ScoreOrder(), FeedbackWeights(liked_album=0.0)).rank(
        Intent(search_text="q"), cands, 4, fb, 5))
    ranked = FeedbackRanking(ScoreOrder(), FeedbackWeights(liked_album=4.0)).rank(Intent(search_text="q"), cands, 4, fb, 5)
    pulled = ids(ranked)
    assert plain.index("same") > plain.index("other")
    assert pulled.index("same") < pulled.index("other")  # same record as the liked track
    assert "from 'Night Drive', an album you liked" in ranked[pulled.index("same")].reason
    assert album_key(cands[3].track) == "" and album_key(cands[2].track) == "night drive"


def test_before_any_like_a_genre_requests_head_goes_to_artists_known_to_fit():
    """A dislike-only turn ranks through the feedback path: the playlist's first places still go to
    artists the enrichment knows fit the genre (filters.known_head); unknown ones follow, not leave."""
    from serving.catalog.enrichment.artifact import ArtistAttrs, Enrichment

    enr = Enrichment("k", {"metal band": ArtistAttrs("Metal Band", {"metal": 1.0}, 5.0),
                           "thrash": ArtistAttrs("Thrash", {"metal": 0.9, "rock": 0.1}, 3.0)}, {})
    ranker = ScoreOrder()
    ranker.enrichment = enr
    cands = [cand("u1", "Unknown One", 0.99), cand("u2", "Unknown Two", 0.98), cand("m1", "Metal Band", 0.5),
             cand("t1", "Thrash", 0.4), cand("z", "Disliked Act", 0.3)]
    metal = Intent(search_text="metal", genres=["metal"])
    out = ids(FeedbackRanking(ranker).rank(metal, cands, 4, Feedback(disliked=("z",)), 5))
    assert out[:2] == ["m1", "t1"] and set(out[2:]) == {"u1", "u2"} and "z" not in out
    # After a like, the liked artists and the artists known to fit still take the first places (LIKED_HEAD);
    # the rest follow in score order.
    liked = ids(FeedbackRanking(ranker).rank(metal, cands, 4, Feedback(liked=("t1",), disliked=("z",)), 5))
    assert liked[0] == "t1" and liked[1] == "m1" and set(liked[2:]) == {"u1", "u2"}


def _liked_head_leads(genres: dict[str, dict[str, float]], liked: str, matched: str, fits: str, intent: Intent):
    """A turn after one like of `liked` (12 more of its tracks score best), with 6 tracks each of a
    text match of another genre (`matched`, scoring next) and of an artist that fits (`fits`, scoring
    last): the next 10 lead artists, as a function of the module's switches at call time."""
    from serving.catalog.enrichment.artifact import ArtistAttrs, Enrichment
    from serving.ranking.feedback import FeedbackWeights
    from serving.text import norm

    heard = {"direct_genre_votes": 1.0}
    ranker = ScoreOrder()
    ranker.enrichment = Enrichment("k", {norm(a): ArtistAttrs(a, g, 5.0, evidence=heard) for a, g in genres.items()}, {})
    cands = ([cand("l", liked, 0.2, liked_sim=1.0)]
             + [cand(f"l{i}", liked, 0.9 - i / 100, title=f"L {i}") for i in range(12)]
             + [cand(f"m{i}", matched, 0.7 - i / 100, title=f"M {i}") for i in range(6)]
             + [cand(f"f{i}", fits, 0.3 - i / 100, title=f"F {i}") for i in range(6)])

    def leads():
        out = FeedbackRanking(ranker, FeedbackWeights(liked_artist_cap=30)).rank(intent, cands, 11,
                                                                                 Feedback(liked=("l",)), 3)
        return [t.artists[0] for t in out[1:]]
    return leads


def test_after_a_like_the_liked_artist_shares_the_first_places_under_the_usual_cap(monkeypatch):
    """Three likes of one artist had filled most of the next 20 places with it (its own cap is 30); the
    places it leaves go to artists known to fit, not to text matches ("Daft Punk" for "pop punk")."""
    from serving.ranking import feedback

    leads = _liked_head_leads({"Liked Band": {"punk": 1.0}, "Pop Punk": {"punk": 1.0}, "Daft Punk": {"house": 1.0}},
                              "Liked Band", "Daft Punk", "Pop Punk", Intent(search_text="pop punk", genres=["punk"]))
    # The head: the liked artist under the usual cap (3) and the artists known to fit; the places the
    # head cannot fill follow in score order, under the liked artist's own cap.
    got = leads()
    assert got[:6].count("Liked Band") == 3 and got[:6].count("Pop Punk") == 3 and "Daft Punk" not in got
    monkeypatch.setattr(feedback, "LIKED_HEAD", False)  # before: the liked artist's own cap from the first place
    assert leads().count("Liked Band") == 10


def test_after_a_like_a_genre_less_turn_takes_the_genres_the_liked_artists_agree_on(monkeypatch):
    """"music for a long run", then three likes of one artist and "more like these": the next playlist
    was 19 of 20 by that artist. The liked artists' genres now head it: the liked artist under the
    usual cap, then artists known for those genres, before text matches of any genre."""
    from serving.ranking import feedback

    leads = _liked_head_leads({"Runner": {"hip hop": 0.9, "pop": 0.1}, "Rapper": {"hip hop": 1.0},
                               "Crooner": {"jazz": 1.0}}, "Runner", "Crooner", "Rapper",
                              Intent(search_text="music for a long run", activities=["workout"]))
    got = leads()
    assert got[:6].count("Runner") == 3 and got[:6].count("Rapper") == 3 and "Crooner" not in got[:6]
    monkeypatch.setattr(feedback, "LIKED_HEAD_ANY", False)  # before: the liked artist's own cap from the first place
    assert leads().count("Runner") == 10


def test_a_sessions_borrowed_tracks_must_agree_with_the_asked_genre():
    """Recordings kept beside a liked one are borrowed only if the enrichment knows they fit, as the
    one-shot path's borrowed candidates must (filters.SESSION_BORROWED_ADMITS)."""
    from serving.catalog.enrichment.artifact import ArtistAttrs, Enrichment
    from serving.ranking.diversity import recording_key
    from serving.ranking.priors import PriorDialog, Priors
    from serving.retrieval import filters

    liked = Track(track_id="l", title="song l", artists=["Idols"])
    fits = Track(track_id="f", title="song f", artists=["Girl Group"])
    off = Track(track_id="g", title="song g", artists=["Punk Band"])
    items = tuple((recording_key(t), t, _unit(*v)) for t, v in [(liked, (1, 0, 0)), (fits, (0, 1, 0)), (off, (0, 0, 1))])
    priors = Priors.build([PriorDialog("d0", np.zeros(3, np.float32), frozenset(k for k, _, _ in items),
                                       frozenset({"idols", "girl group", "punk band"}), goal_items=items)], 3)
    ranker = PriorsOrder(priors)
    ranker.enrichment = Enrichment("k", {a: ArtistAttrs(a.title(), g, 5.0) for a, g in [
        ("idols", {"k-pop": 1.0}), ("girl group", {"k-pop": 0.9, "pop": 0.1}), ("punk band", {"punk": 1.0})]}, {})
    kpop = Intent(search_text="k-pop girl groups", genres=["k-pop"])
    retrieved = [Candidate(track=liked, dense_score=0.5, retrieval_rank=0, liked_sim=1.0), cand("o", "Other", 0.4)]
    out = ids(FeedbackRanking(ranker).rank(kpop, retrieved, 5, Feedback(liked=("l",)), 5))
    assert out[0] == "l" and "f" in out and "g" not in out
    filters.SESSION_BORROWED_ADMITS = False
    try:  # the old behaviour: nothing checked the co-kept punk band
        assert "g" in ids(FeedbackRanking(ranker).rank(kpop, retrieved, 5, Feedback(liked=("l",)), 5))
    finally:
        filters.SESSION_BORROWED_ADMITS = True
