"""Messages that ask for nothing (greetings, thanks, praise) carry no search words."""

import pytest

from serving.intent.chatter import asks_nothing, is_chatter
from serving.intent.edits import EditRules
from serving.intent.fallback import FastParser
from serving.intent.model import Intent, YearRange

ARTISTS = ["Ed Sheeran", "Drake", "Adele"]
PARSER = FastParser(None, ARTISTS)


@pytest.mark.parametrize("text", ["Hello", "hi", "Hi wizard", "good morning!", "hello?", "Hey there",
                                  "ok", "thank you!", "these are great!", "Yes, perfect!!", "I love it",
                                  "so far so good", "awesome, thanks"])
def test_chatter(text):
    assert is_chatter(text)


@pytest.mark.parametrize("text", ["", "  ", "Perfect by Ed Sheeran", "good music for a party", "hello adele",
                                  "more please", "rainy sunday jazz", "I love jazz", "Hello I'm ready for rock"])
def test_not_chatter(text):
    assert not is_chatter(text)


@pytest.mark.parametrize("prompt", ["Hello", "Hi wizard", "good day", "thanks!"])
def test_the_parser_finds_no_request_in_chatter(prompt):
    i = PARSER.parse(prompt)
    assert i.search_text == "" and not (i.genres or i.moods or i.activities or i.include_artists)
    assert asks_nothing(i)


def test_a_request_beside_a_greeting_is_still_parsed():
    i = PARSER.parse("Hello, some Drake please")
    assert i.include_artists == ["Drake"] and not asks_nothing(i)
    assert PARSER.parse("Perfect by Ed Sheeran").include_artists == ["Ed Sheeran"]


@pytest.mark.parametrize("intent, expected", [
    (Intent(search_text=""), True),
    (Intent(search_text="hello"), True),  # an LLM backend may keep the greeting as search text
    (Intent(search_text="", exclude_artists=["Drake"]), True),  # "anything but Drake": nothing in particular
    (Intent(search_text="", genres=["jazz"]), False),
    (Intent(search_text="", include_artists=["Adele"]), False),
    (Intent(search_text="", era=YearRange(start=1990, end=1999)), False),
    (Intent(search_text="", energy=0.8), False),
    (Intent(search_text="road trip"), False),
])
def test_asks_nothing(intent, expected):
    assert asks_nothing(intent) is expected


def test_thanks_in_a_session_leaves_the_intent_as_it_was():
    start = Intent(search_text="dance party hits", genres=["pop"], energy=0.6)
    r = EditRules(ARTISTS, []).apply(start, "these are perfect, thank you!", PARSER.parse("these are perfect, thank you!"))
    assert r.intent.search_text == "dance party hits"
    assert r.intent.genres == ["pop"] and r.intent.energy == 0.6


@pytest.mark.parametrize("prompt", ["Hi, I would like to create a playlist", "play some music", "songs",
                                    "can you make me a playlist?"])
def test_a_prompt_of_request_words_only_asks_for_nothing(prompt):
    assert PARSER.parse(prompt).search_text == "" and asks_nothing(PARSER.parse(prompt))


@pytest.mark.parametrize("prompt, search", [("I would like to listen to alternative songs", "alternative"),
                                            ("play some Drake", "Drake")])
def test_request_verbs_are_not_search_words(prompt, search):
    assert PARSER.parse(prompt).search_text == search
