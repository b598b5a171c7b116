"""A 4-turn conversation over real HTTP against the tier's real graph (and its SQLite store):
an added artist appears, a disliked track never returns, an excluded artist disappears, the
arm never changes, and every turn is one trace whose spans carry the session id and turn."""

import httpx
import pytest


def _post(base, path, body):
    return httpx.post(f"{base}{path}", json=body, timeout=120)


def _artists(resp):
    return {a for t in resp["playlist"] for a in t["artists"]}


def test_four_turn_session(base_url, otlp_receiver):
    r0 = _post(base_url, "/v1/sessions", {"prompt": "upbeat pop hits for a dance party", "user_id": "e2e-session",
                                          "length": 20})
    assert r0.status_code == 200, r0.text
    s0 = r0.json()
    sid, arm = s0["session_id"], s0["arm"]
    assert s0["turn"] == 0 and len(s0["playlist"]) == 20
    first = [t["track_id"] for t in s0["playlist"]]

    s1 = _post(base_url, f"/v1/sessions/{sid}/turns", {"liked": first[:2], "disliked": [first[2]]}).json()
    ids1 = [t["track_id"] for t in s1["playlist"]]
    assert s1["turn"] == 1 and ids1[:2] == first[:2] and first[2] not in ids1

    s2 = _post(base_url, f"/v1/sessions/{sid}/turns", {"message": "can you add some Ed Sheeran"}).json()
    assert "Ed Sheeran" in _artists(s2) and "Ed Sheeran" in s2["intent"]["include_artists"]
    assert first[2] not in [t["track_id"] for t in s2["playlist"]]

    s3 = _post(base_url, f"/v1/sessions/{sid}/turns", {"message": "no more Ed Sheeran please"}).json()
    assert "Ed Sheeran" not in _artists(s3) and "Ed Sheeran" in s3["intent"]["exclude_artists"]
    assert first[2] not in [t["track_id"] for t in s3["playlist"]]
    assert {s1["arm"], s2["arm"], s3["arm"]} == {arm}

    h = httpx.get(f"{base_url}/v1/sessions/{sid}", timeout=30).json()
    assert [t["turn"] for t in h["turns"]] == [0, 1, 2, 3] and h["arm"] == arm and h["disliked"] == [first[2]]

    # One trace per turn, its spans tagged with the session and the turn index.
    spans = otlp_receiver.wait_for(
        lambda ss: any(s.attributes.get("segue.session_id") == sid and s.attributes.get("segue.turn") == 3
                       and s.name == "segue.ranking" for s in ss), timeout_s=30, trace_id=s3["trace_id"])
    tagged = [s for s in spans if s.attributes.get("segue.session_id") == sid]
    assert {s.attributes.get("segue.turn") for s in tagged} == {3}


@pytest.mark.parametrize("path,body,status,needle", [
    ("/v1/sessions/s_missing/turns", {"message": "more"}, 404, "does not exist"),
    ("/v1/sessions", {"prompt": "  "}, 422, "prompt"),
])
def test_session_errors(base_url, path, body, status, needle):
    r = _post(base_url, path, body)
    assert r.status_code == status and needle in r.json()["message"]


def test_turn_errors_name_the_field(base_url):
    sid = _post(base_url, "/v1/sessions", {"prompt": "jazz", "length": 5}).json()["session_id"]
    r = _post(base_url, f"/v1/sessions/{sid}/turns", {"liked": ["no-such-track"]})
    assert r.status_code == 400 and "liked[0]" in r.json()["message"]
    r = _post(base_url, f"/v1/sessions/{sid}/turns", {})
    assert r.status_code == 422 and "a turn needs a message" in r.json()["message"]


def test_readme_session_example(base_url):
    """The README's session example: the documented requests work and answer with its shape."""
    import json
    import shlex

    from tests.e2e.test_readme import _block

    def body(marker):
        words = shlex.split(_block(marker).replace("\\\n", " "))
        return json.loads(words[words.index("-d") + 1])

    documented = json.loads(_block("session-response"))
    start = _post(base_url, "/v1/sessions", body("session-start")).json()
    assert set(start) == set(documented) and len(start["playlist"]) == 4
    turn = body("session-turn")
    ids = [t["track_id"] for t in start["playlist"]]
    turn.update(liked=[ids[0]], disliked=[ids[1]])  # this run's tracks stand in for the documented ids
    r = _post(base_url, f"/v1/sessions/{start['session_id']}/turns", turn)
    assert r.status_code == 200, r.text
    got = r.json()
    assert set(got) == set(documented) and got["turn"] == 1 and got["playlist"][0]["track_id"] == ids[0]
    assert got["intent"]["exclude_artists"] == documented["intent"]["exclude_artists"]
    assert "Ed Sheeran" in got["intent"]["include_artists"] and got["edits"] == documented["edits"]
