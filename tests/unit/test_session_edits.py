"""The fast parser's conversational edit rules, one operation per test."""

import pytest

from serving.intent.edits import ENERGY_STEP, EditRules
from serving.intent.fallback import FastParser
from serving.intent.model import Intent

ARTISTS = ["Drake", "Adele", "Ed Sheeran", "John Legend", "Taylor Swift", "Metallica"]
RULES = EditRules(ARTISTS, [("t-journey", "Don't Stop Believin' (Remastered)"), ("t-x", "Bohemian Rhapsody")])
PARSER = FastParser(None, ARTISTS)
START = Intent(search_text="dance party hits", genres=["pop", "hip hop"], moods=["happy"], energy=0.6,
               include_artists=["Drake"])


def edit(message, previous=START):
    return RULES.apply(previous, message, PARSER.parse(message))


def test_add_artists():
    r = edit("Thanks, can you add Ed Sheeran, John Legend, Taylor Swift")
    assert r.intent.include_artists == ["Drake", "Ed Sheeran", "John Legend", "Taylor Swift"]
    assert "add artist Ed Sheeran" in r.ops


def test_no_more_artist_excludes_and_removes_from_wanted():
    r = edit("no more Drake please")
    assert r.intent.exclude_artists == ["Drake"] and "Drake" not in r.intent.include_artists


def test_no_more_a_name_with_a_period_excludes_the_artist_not_a_title_word():
    names = ["Dr. Dre", "Tyler, The Creator", "Drake"]
    rules, parser = EditRules(names), FastParser(None, names)
    for message, who in (("no more Dr. Dre", "Dr. Dre"), ("no more Tyler, The Creator please", "Tyler, The Creator")):
        r = rules.apply(START, message, parser.parse(message))
        # The phrase used to end at "Dr." and ban every title word starting "dr" (Dream, Drive, ...).
        assert r.intent.exclude_artists == [who] and r.intent.exclude_terms == [], message


def test_adding_an_excluded_artist_lifts_the_exclusion():
    r = edit("add some Drake", previous=START.model_copy(update={"include_artists": [], "exclude_artists": ["Drake"]}))
    assert r.intent.include_artists == ["Drake"] and r.intent.exclude_artists == []


def test_remove_genre():
    r = edit("less rap")
    assert "hip hop" not in r.intent.genres and "pop" in r.intent.genres
    assert r.intent.exclude_terms == []  # "less" softens, it does not ban


def test_no_more_genre_also_bans_the_word():
    r = edit("no more rap")
    assert "hip hop" not in r.intent.genres and "rap" in r.intent.exclude_terms


def test_move_away_from_genre():
    r = edit("Could we move away from the rock genre?", START.model_copy(update={"genres": ["rock", "pop"]}))
    assert r.intent.genres == ["pop"]


def test_add_genre_with_more():
    r = edit("more jazz")
    assert r.intent.genres[0] == "jazz"


def test_more_upbeat_raises_energy():
    assert edit("more upbeat").intent.energy == pytest.approx(0.6 + ENERGY_STEP)


def test_less_upbeat_and_calmer_lower_energy():
    assert edit("less upbeat").intent.energy == pytest.approx(0.6 - ENERGY_STEP)
    assert edit("something calmer").intent.energy == pytest.approx(0.6 - ENERGY_STEP)


def test_faster_tempo_word():
    assert edit("faster songs").intent.energy == pytest.approx(0.6 + ENERGY_STEP)


def test_energy_is_bounded():
    r = edit("more upbeat", START.model_copy(update={"energy": 0.95}))
    assert r.intent.energy == 1.0


def test_mood_more_and_less():
    assert "sad" in edit("more sad songs").intent.moods
    assert "happy" not in edit("less happy").intent.moods


def test_something_like_artist_wants_the_artist():
    r = edit("something like Adele")
    assert "Adele" in r.intent.include_artists and r.anchors == ()


def test_something_like_track_anchors_it():
    r = edit("Do you have more songs similar to Don't Stop Believin'?")
    assert r.anchors == ("t-journey",)


def test_keep_the_first_five():
    assert edit("keep the first five and change the rest").keep_first == 5
    assert edit("keep top 3").keep_first == 3
    assert edit("more upbeat").keep_first is None


def test_no_more_other_thing_is_an_excluded_term():
    r = edit("no more ballads")
    assert "ballads" in r.intent.exclude_terms


def test_search_text_accumulates_and_stays_in_the_schema():
    r = edit("something for the drive home")
    assert r.intent.search_text.startswith("dance party hits") and "drive home" in r.intent.search_text
    long = START.model_copy(update={"search_text": "x" * 10 + " " + "word " * 58})
    assert len(edit("and some late night vibes").intent.search_text) <= 300
    assert len(edit("and some late night vibes", long).intent.search_text) <= 300


def test_unrelated_message_keeps_the_intent():
    r = edit("great, thanks!")
    assert r.intent.include_artists == ["Drake"] and r.intent.genres[:2] == ["pop", "hip hop"]
    assert r.intent.energy == 0.6


def test_chatter_does_not_move_a_settled_energy():
    assert edit("love it, thanks").intent.energy == 0.6
    assert edit("more upbeat", START.model_copy(update={"energy": None})).intent.energy == pytest.approx(0.5 + ENERGY_STEP)


def test_asking_for_more_of_an_excluded_word_takes_the_exclusion_back():
    calm = PARSER.parse("rainy sunday jazz, nothing too upbeat")
    assert calm.exclude_terms == ["upbeat"]
    r = RULES.apply(calm, "more upbeat", PARSER.parse("more upbeat"))
    assert r.intent.exclude_terms == [] and "allow upbeat" in r.ops
    assert r.intent.energy > calm.energy
