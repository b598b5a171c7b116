"""Artist names typed with one slip (`serving/intent/spelling.py`), and the parser reading them."""

import pytest

from serving.intent.fallback import FastParser
from serving.intent.spelling import NameSpeller, catalog_words, within_one_edit
from serving.schemas import Track

ARTISTS = ["Ornette Coleman", "Fleetwood Mac", "Beastie Boys", "The Weeknd", "Taylor Swift", "Drake",
           "Ornette Colemann Trio"]
TRACKS = [Track(track_id=f"t{i}", title=title, artists=[a], album=album) for i, (title, a, album) in enumerate([
    ("Lonely Woman", "Ornette Coleman", "The Shape of Jazz to Come"), ("Dreams", "Fleetwood Mac", "Rumours"),
    ("Sabotage", "Beastie Boys", None), ("Weekend Lover", "Drake", "Take Care"), ("Blinding Lights", "The Weeknd", None),
    ("Shake It Off", "Taylor Swift", "1989"), ("Swift Wind", "Drake", "Mantra"),
])]


@pytest.fixture(scope="module")
def parser():
    return FastParser(None, ARTISTS, vocabulary=catalog_words(TRACKS))


def test_one_edit_covers_insert_delete_substitute_and_swap():
    assert within_one_edit("colman", "coleman") and within_one_edit("coleman", "colman")
    assert within_one_edit("swfit", "swift") and within_one_edit("fleetwod", "fleetwood")
    assert within_one_edit("beastie", "bestie") and within_one_edit("taylor", "tailor")
    assert not within_one_edit("monkies", "monkeys") and not within_one_edit("swift", "swifty2")


def test_a_misspelled_name_is_read_as_the_name(parser):
    intent = parser.parse("if i like ornette colman what else should i check out")
    assert intent.similar_artists == ["Ornette Coleman"]
    assert parser.parse("songs like taylor swfit").similar_artists == ["Taylor Swift"]
    assert parser.parse("more like the Bestie Boys.").similar_artists == ["Beastie Boys"]


def test_words_the_catalog_uses_and_short_names_are_never_guessed(parser):
    # "weekend" is a title word (and "The Weeknd" is too short a name to guess at); a one-word name
    # is never guessed; a word the catalog uses is never corrected, even one edit from a name's.
    assert parser.parse("songs for the weekend").include_artists == []
    assert NameSpeller({"the weeknd": "The Weeknd"}, []).correct("the weeknd")[1] == []
    assert parser.parse("drakee vibes").similar_artists == []
    text, fixes = NameSpeller({"ornette coleman": "Ornette Coleman"}, ["colman"]).correct("ornette colman")
    assert fixes == [] and text == "ornette colman"


def test_two_readings_are_a_guess_and_left_alone():
    names = {"ornette coleman": "Ornette Coleman", "ornette colmann": "Ornette Colmann"}
    assert NameSpeller(names, []).correct("like ornette colman")[1] == []


def test_without_a_vocabulary_the_parser_corrects_nothing():
    assert FastParser(None, ARTISTS).parse("if i like ornette colman").similar_artists == []
