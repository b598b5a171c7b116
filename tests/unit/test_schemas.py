import pytest
from pydantic import ValidationError

from serving.intent.model import Intent, YearRange
from serving.schemas import PlaylistRequest, SearchRequest


def test_defaults():
    r = PlaylistRequest(prompt="rainy sunday jazz")
    assert r.length == 20 and r.user_id is None


@pytest.mark.parametrize(
    "body, field",
    [
        ({"prompt": "   "}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x" * 2001}, "prompt"),
        ({"prompt": "x", "length": 0}, "length"),
        ({"prompt": "x", "length": 101}, "length"),
        ({"prompt": "x", "length": "many"}, "length"),
        ({"prompt": "x", "colour": "red"}, "colour"),
        ({"prompt": 5}, "prompt"),
        ({}, "prompt"),
    ],
)
def test_bad_playlist_requests_name_the_field(body, field):
    with pytest.raises(ValidationError) as e:
        PlaylistRequest.model_validate(body)
    assert field in {str(x) for err in e.value.errors() for x in err["loc"]}


def test_blank_prompt_message_says_how_to_fix():
    with pytest.raises(ValidationError, match="must contain some visible text"):
        PlaylistRequest(prompt="  \n ")


def test_search_request_bounds():
    assert SearchRequest(query="daft punk").limit == 10
    with pytest.raises(ValidationError):
        SearchRequest(query="x", limit=0)


def test_intent_schema_constrains_text_and_era():
    with pytest.raises(ValidationError):
        Intent(search_text='bad "quote"')
    with pytest.raises(ValidationError, match="before start"):
        YearRange(start=1990, end=1980)
    i = Intent(search_text="jazz", genres=["jazz"], moods=["chill"])
    assert i.query_text() == "jazz chill"
