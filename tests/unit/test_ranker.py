from serving.intent.model import Intent
from serving.ranking.baseline import BaselineRanker
from serving.ranking.diversity import recording_key
from serving.schemas import Candidate, Track


def cand(i, title, artist, score, cluster=None):
    return Candidate(track=Track(track_id=f"t{i}", title=title, artists=[artist], cluster_id=cluster),
                     dense_score=score, retrieval_rank=i)


def test_exact_length_dedupe_and_artist_cap():
    cands = [cand(i, f"Song {i}", f"Artist {i % 3}", 1 - i / 100) for i in range(30)]
    cands.append(cand(99, "Song 0 (Remastered 2011)", "Artist 0", 0.999))  # same recording as Song 0
    cands.append(cand(98, "Other", "Artist 9", 0.998, cluster="c1"))
    cands.append(cand(97, "Other (live)", "Artist 8", 0.997, cluster="c1"))  # same cluster
    out = BaselineRanker(max_per_artist=2).rank(Intent(search_text="x"), cands, 6)
    assert len(out) == 6
    keys = {recording_key(next(c.track for c in cands if c.track.track_id == t.track_id)) for t in out}
    assert len(keys) == 6
    leads = [t.artists[0] for t in out]
    assert max(leads.count(a) for a in set(leads)) <= 2
    assert all(t.reason for t in out)


def test_cap_relaxes_rather_than_returning_short():
    cands = [cand(i, f"Song {i}", "Only Artist", 1 - i / 100) for i in range(10)]
    out = BaselineRanker(max_per_artist=2).rank(Intent(search_text="x"), cands, 5)
    assert len(out) == 5


def test_a_like_x_playlist_keeps_its_artist_cap_and_comes_out_short_instead():
    # "songs like Elton John" had 13 of his tracks in 20 once few other artists qualified.
    cands = [cand(i, f"Song {i}", "Elton John", 0.9 - i / 100) for i in range(15)]
    cands += [cand(20 + i, f"Other {i}", f"Neighbour {i}", 0.5) for i in range(4)]
    like = Intent(search_text="x", similar_artists=["Elton John"])
    out = BaselineRanker(max_per_artist=5).rank(like, cands, 20)
    assert [t.artists[0] for t in out].count("Elton John") == 5 and len(out) == 9
    # Any other playlist still fills up rather than come out short; search mode has no cap to keep.
    assert len(BaselineRanker(max_per_artist=5).rank(Intent(search_text="x"), cands, 20)) == 19
    assert len(BaselineRanker(max_per_artist=5).rank(like, cands, 20, mode="search")) == 19


def test_integer_id_selection_keeps_the_cap_when_told_to():
    from serving.ranking.diversity import select_diverse_ids

    order, key, lead = list(range(8)), list(range(8)), [0] * 6 + [1, 2]
    assert len(select_diverse_ids(order, 8, key, lead, 2, [False] * 8)) == 8  # relaxes to fill
    assert select_diverse_ids(order, 8, key, lead, 2, [False] * 8, relax=False) == [0, 1, 6, 7]


def test_requested_artist_is_boosted_and_uncapped():
    cands = [cand(i, f"Song {i}", "Lojay", 0.3) for i in range(5)] + [cand(10 + i, f"S{i}", f"A{i}", 0.5) for i in range(5)]
    out = BaselineRanker(max_per_artist=1).rank(Intent(search_text="x", include_artists=["Lojay"]), cands, 5)
    assert [t.artists[0] for t in out].count("Lojay") == 5
    assert out[0].reason.startswith("by Lojay")


def test_sequencing_avoids_same_artist_back_to_back():
    cands = [cand(0, "a", "A", 0.9), cand(1, "b", "A", 0.89), cand(2, "c", "B", 0.5)]
    out = BaselineRanker(max_per_artist=5).rank(Intent(search_text="x"), cands, 3)
    assert [t.artists[0] for t in out] == ["A", "B", "A"]


def test_search_mode_keeps_score_order():
    cands = [cand(0, "a", "A", 0.9), cand(1, "b", "A", 0.89), cand(2, "c", "B", 0.5)]
    out = BaselineRanker(max_per_artist=1).rank(Intent(search_text="x"), cands, 3, mode="search")
    assert [t.track_id for t in out] == ["t0", "t1", "t2"]


def test_a_long_playlist_caps_an_artist_at_a_tenth_of_it():
    from serving.ranking.diversity import artist_cap

    assert artist_cap(5, 20) == 5 and artist_cap(5, 50) == 5 and artist_cap(5, 100) == 10
    assert artist_cap(2, 30) == 3
    # 20 artists with 10 tracks each, artist 0's all on top: a 100-track playlist takes 10 of them,
    # a 20-track one the configured 5.
    cands = [cand(a * 10 + i, f"Song {a}-{i}", f"Artist {a}", 1 - a / 100 - i / 1000) for a in range(20) for i in range(10)]
    for length, most in ((100, 10), (20, 5)):
        out = BaselineRanker(max_per_artist=5).rank(Intent(search_text="x"), cands, length)
        leads = [t.artists[0] for t in out]
        assert len(out) == length and leads.count("Artist 0") == most
