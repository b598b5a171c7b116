"""The typed client against the e2e tier's real graph: every call decodes into the API's
models, and errors carry the server's words."""

import pytest

from serving.client import SegueAPIError, SegueClient
from serving.schemas import PlaylistResponse


@pytest.fixture(scope="module")
def segue(base_url):
    with SegueClient(base_url, timeout_s=60) as c:
        yield c


def test_playlist_search_feedback_round_trip(segue):
    p = segue.playlist("heavy metal to work out to", length=5, user_id="client-e2e")
    assert isinstance(p, PlaylistResponse) and len(p.tracks) == 5 and "metal" in p.intent.genres
    assert p.versions["ranker"] and p.trace_id  # the e2e tier traces every request
    f = segue.feedback(p.playlist_id, p.tracks[0].track_id, "like")
    assert f.counted and f.playlist_id == p.playlist_id
    r = segue.search("Lojay", limit=3)
    assert len(r.results) == 3 and "Lojay" in r.results[0].artists
    assert segue.ready()


def test_server_errors_surface_with_their_message(segue):
    with pytest.raises(SegueAPIError) as e:
        segue.playlist("x", length=101)
    assert e.value.status == 422 and "less than or equal to 100" in e.value.message and e.value.request_id
    with pytest.raises(SegueAPIError) as e:
        segue.feedback("f" * 32, "t", "like")
    assert e.value.status == 404 and "POST /v1/playlists" in e.value.message
    with pytest.raises(SegueAPIError) as e:
        segue.experiment("no-such-experiment")
    assert e.value.status == 404 and "no recorded traffic" in e.value.message
