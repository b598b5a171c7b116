"""Issue 14's examples against the real graph: coherent playlists from the enrichment artifact.
One request per example on the tier's shared graph; the assertions name the failures the issue saw."""

import re

import httpx
import pytest


def _playlist(base_url, prompt, length=20):
    r = httpx.post(f"{base_url}/v1/playlists", json={"prompt": prompt, "length": length}, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["versions"]["enrichment"].startswith("enrich-")
    return body, [(t["title"], t["artists"][0]) for t in body["tracks"]]


def _artists(tracks):
    return {a for _, a in tracks}


def test_heavy_metal_workout_has_no_pop_filler(base_url):
    body, tracks = _playlist(base_url, "heavy metal to work out to", length=40)
    assert not _artists(tracks) & {"Michael Jackson", "Whitney Houston", "Beyoncé", "Rihanna"}, tracks
    # The first 20 places go to acts listeners filed mostly under metal (filters.STRONG_HEAD); Metallica
    # and Black Sabbath, filed mostly under rock, follow them rather than leaving the playlist.
    assert {"Metallica", "Black Sabbath"} <= _artists(tracks), tracks


def test_90s_hip_hop_road_trip(base_url):
    body, tracks = _playlist(base_url, "90s hip hop for a road trip")
    assert "WAP" not in {t for t, _ in tracks} and "Whitney Houston" not in _artists(tracks), tracks
    assert body["intent"]["era"] == {"start": 1990, "end": 1999}


def test_k_pop_girl_groups(base_url):
    body, tracks = _playlist(base_url, "k-pop girl groups")
    assert not _artists(tracks) & {"K-Ci & JoJo", "Tay-K", "Michael Jackson", "50 Cent"}, tracks


def test_like_radiohead_but_not_radiohead(base_url):
    body, tracks = _playlist(base_url, "songs like Radiohead but not Radiohead")
    intent = body["intent"]
    assert intent["similar_artists"] == ["Radiohead"] and intent["exclude_artists"] == ["Radiohead"]
    assert "like" not in intent["search_text"].lower().split()
    assert "Radiohead" not in _artists(tracks)
    assert not _artists(tracks) & {"Bruno Mars", "Kane Brown"}, tracks
    assert not [t for t, _ in tracks if re.match(r"like\b", t, re.I)], tracks  # no title matched on "like"


def test_classic_rock_70s_without_led_zeppelin(base_url):
    body, tracks = _playlist(base_url, "classic rock from the 70s, no Led Zeppelin")
    assert body["intent"]["include_artists"] == [] and "classic rock" in body["intent"]["genres"]
    assert "Led Zeppelin" not in _artists(tracks) and "Def Leppard" not in _artists(tracks), tracks
    assert not [t for t, _ in tracks if re.search(r"karaoke|originally performed", t, re.I)], tracks


@pytest.mark.parametrize("prompt", ["música latina para bailar"])
def test_latin_dance_in_spanish(base_url, prompt):
    body, tracks = _playlist(base_url, prompt)
    assert not _artists(tracks) & {"Wolfgang Amadeus Mozart", "Mozart", "Enya"}, tracks
    assert "latin" in body["intent"]["genres"]


def test_like_a_spanish_language_artist_stays_spanish_language(base_url):
    body, tracks = _playlist(base_url, "I like Bad Bunny, give me more like him")
    assert body["intent"]["similar_artists"] == ["Bad Bunny"]
    # Listeners kept him beside English-language rappers; they are not music like him (the read
    # held-out coherence set had Lil Wayne fill 12 of 20 places, one title matching "more").
    assert not _artists(tracks) & {"Lil Wayne", "Cardi B", "Nicki Minaj", "Big Sean", "Iggy Azalea", "GloRilla"}, tracks
    assert _artists(tracks) & {"J. Balvin", "J Balvin", "Maluma", "Farruko"}, tracks


def test_blues_rock_opens_with_blues_rock_not_the_most_kept_rock_acts(base_url):
    # One genre word naming two genres (filters.COMPOUND_HEAD): before, the most-kept rock acts led
    # (Def Leppard, AC/DC, Pearl Jam), and Metallica and Black Sabbath followed.
    body, tracks = _playlist(base_url, "blues rock with big guitar solos")
    assert {"rock", "blues"} <= set(body["intent"]["genres"])
    rock_only = {"Def Leppard", "AC/DC", "Pearl Jam", "Linkin Park", "Metallica", "Black Sabbath"}
    assert not _artists(tracks[:5]) & rock_only, tracks


def test_music_like_a_named_artist_is_not_that_artists_discography(base_url):
    # Read as music *by* them before: "Lil Nas X" also named "Nas" (19 of 20 tracks his), "what else
    # would I like" after a name asked for nothing (18 of 20 by Coltrane), and a "like X" playlist
    # short of other artists relaxed X's cap ("songs like Elton John": 13 of 20).
    # Since session 19 a "like X" playlist holds only X and the artists kept beside X, so one whose
    # neighbours do not fit X's profile (Elton John's are filed under classical) is short, and says so
    # (before, unknown acts filled it: Endless Summer, Afroham, brillion.).
    for prompt, who in (("songs like Lil Nas X", "Lil Nas X"), ("I love John Coltrane, what else would I like",
                                                                  "John Coltrane"),
                        ("songs like Elton John", "Elton John")):
        body, tracks = _playlist(base_url, prompt)
        assert body["intent"]["similar_artists"] == [who] and body["intent"]["include_artists"] == [], body["intent"]
        leads = [t["artists"][0] for t in body["tracks"]]
        assert max(leads.count(a) for a in set(leads)) <= 5, (prompt, leads)
        if len(leads) < 20:
            assert body["note"].startswith(f"{len(leads)} of 20 tracks") and who in body["note"], body["note"]
        else:
            assert len(set(leads)) >= 3 and body["note"] is None, (prompt, leads)


def test_an_exclusion_that_gives_part_of_a_name_excludes_the_artist(base_url):
    # Session 20: these excluded title words ("blink", "STP", "nicki") and left the artist in.
    for prompt, who in (("pop punk in the blink-182 lane minus blink, dumb jokes and fast drums", "blink-182"),
                        ("90s rock like stone temple pilots but without STP themselves", "Stone Temple Pilots"),
                        ("female rappers, baddie anthems. no nicki tho", "Nicki Minaj")):
        body, tracks = _playlist(base_url, prompt)
        assert who in body["intent"]["exclude_artists"], body["intent"]
        assert tracks and who not in _artists(tracks), (prompt, tracks)


def test_kids_songs_are_childrens_music(base_url):
    body, tracks = _playlist(base_url, "kids songs for a long car ride")
    assert body["intent"]["genres"] == ["children"], body["intent"]
    # Before the children tag: Arctic Monkeys' "The Car", Steppenwolf's "Born To Be Wild".
    assert not _artists(tracks) & {"Arctic Monkeys", "Steppenwolf"}, tracks
