"""The error table and request validation through FastAPI, without Ray (fake Stages)."""

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from serving.config import AppConfig
from serving.errors import STATUS, NotReady, Overloaded, SegueError, status_for
from serving.ingress import IngressCore, create_api
from serving.intent.model import Intent
from serving.intent.service import IntentResult
from serving.schemas import PlaylistRequest, PlaylistResponse, RankedTrack
from serving.stages import RankResult, Stages


class FakeStages(Stages):
    def __init__(self, fail: Exception | None = None):
        self.fail = fail
        self.lengths: list[int] = []

    async def intent(self, prompt, ctx):
        return IntentResult(Intent(search_text=prompt[:50], length=25 if "25 songs" in prompt else None), {"intent_backend": "fake"})

    async def retrieve_and_rank(self, intent, k, length, mode, ctx):
        if self.fail:
            raise self.fail
        self.lengths.append(length)
        tracks = [RankedTrack(track_id=f"t{i}", title="T", artists=["A"], album=None, score=1.0, reason="r") for i in range(length)]
        return RankResult(tracks, n_candidates=k, versions={"ranker": "fake"})

    async def ready(self):
        return True, "ok"


def client(stages: Stages) -> TestClient:
    api = create_api(AppConfig())
    core = IngressCore(stages, AppConfig())

    @api.post("/v1/playlists", response_model=PlaylistResponse)
    async def playlists(body: PlaylistRequest, request: Request):
        return await core.create_playlist(body, request)

    return TestClient(api, raise_server_exceptions=False)


def test_every_domain_error_has_a_status():
    for cls in SegueError.__subclasses__():
        assert cls in STATUS, f"{cls.__name__} missing from the error table"
    assert status_for(NotReady("x")) == 503 and status_for(SegueError("x")) == 500


@pytest.mark.parametrize(
    "body, status, words",
    [
        ('{"prompt": "   "}', 422, ["prompt", "must contain some visible text"]),
        ('{"prompt": "x", "length": 0}', 422, ["length", "greater than or equal to 1"]),
        ('{"prompt": "x", "length": 101}', 422, ["length", "less than or equal to 100"]),
        ('{"prompt": "x", "length": "many"}', 422, ["length", "must be a JSON integer"]),
        ('{"prompt": "x", "colour": "red"}', 422, ["unknown field 'colour'"]),
        ('{"prompt": "' + "a" * 2001 + '"}', 422, ["prompt", "at most 2000"]),
        ("not json", 400, ["not valid JSON"]),
        ("[1, 2]", 422, ["must be a JSON object"]),
        ("{}", 422, ["field 'prompt' is required"]),
    ],
)
def test_bad_input_is_4xx_with_a_message_naming_the_field(body, status, words):
    r = client(FakeStages()).post("/v1/playlists", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    payload = r.json()
    assert payload["error"] == "invalid_request"
    for w in words:
        assert w in payload["message"]
    assert r.headers["x-request-id"] == payload["request_id"]


def test_domain_errors_map_through_the_table_with_retry_after():
    r = client(FakeStages(fail=NotReady("index loading", retry_after_s=5))).post("/v1/playlists", json={"prompt": "x"})
    assert r.status_code == 503 and r.headers["retry-after"] == "5" and r.json()["error"] == "not_ready"
    r = client(FakeStages(fail=Overloaded("full", retry_after_s=2))).post("/v1/playlists", json={"prompt": "x"})
    assert r.status_code == 503 and r.json()["error"] == "overloaded"


def test_unexpected_errors_are_500_without_internals():
    r = client(FakeStages(fail=KeyError("secret internals"))).post("/v1/playlists", json={"prompt": "x"})
    assert r.status_code == 500 and "secret" not in r.text and r.json()["request_id"]


def test_length_from_prompt_unless_request_sets_it():
    stages = FakeStages()
    c = client(stages)
    assert len(c.post("/v1/playlists", json={"prompt": "give me 25 songs"}).json()["tracks"]) == 25
    assert len(c.post("/v1/playlists", json={"prompt": "give me 25 songs", "length": 20}).json()["tracks"]) == 20
    assert len(c.post("/v1/playlists", json={"prompt": "jazz"}).json()["tracks"]) == 20


def test_client_request_id_is_echoed_when_well_formed():
    c = client(FakeStages())
    assert c.post("/v1/playlists", json={"prompt": "x"}, headers={"x-request-id": "abc-123"}).json()["request_id"] == "abc-123"
    assert c.post("/v1/playlists", json={"prompt": "x"}, headers={"x-request-id": "bad id!"}).json()["request_id"] != "bad id!"


def test_platform_errors_are_mapped_by_type_not_name():
    from ray.exceptions import GetTimeoutError
    from ray.serve.exceptions import BackPressureError

    from serving.errors import StageTimeout
    from serving.http_errors import map_platform_error

    assert isinstance(map_platform_error(BackPressureError(num_queued_requests=9, max_queued_requests=8)), Overloaded)
    assert isinstance(map_platform_error(GetTimeoutError("slow")), StageTimeout)
    BackPressureError_lookalike = type("BackPressureError", (Exception,), {})  # same name, other type
    assert map_platform_error(BackPressureError_lookalike()) is None
    assert map_platform_error(ValueError("x")) is None
