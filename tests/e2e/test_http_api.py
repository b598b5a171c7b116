"""Real HTTP against a real local Ray Serve graph: the issue's acceptance checks."""

import json

import httpx
import pytest

from serving.catalog.loader import load_catalog


@pytest.fixture(scope="module")
def catalog_ids():
    return {t.track_id for t in load_catalog().tracks}


def test_heavy_metal_playlist(base_url, catalog_ids):
    r = httpx.post(f"{base_url}/v1/playlists", json={"prompt": "heavy metal to work out to", "length": 20}, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    ids = [t["track_id"] for t in body["tracks"]]
    assert len(ids) == 20 and len(set(ids)) == 20 and set(ids) <= catalog_ids
    assert "metal" in body["intent"]["genres"]
    assert {"intent_backend", "embedder", "index", "catalog", "ranker"} <= set(body["versions"])
    assert body["request_id"] and body["playlist_id"] and r.headers["x-request-id"] == body["request_id"]
    assert all(t["reason"] and isinstance(t["score"], float) for t in body["tracks"])


def test_search(base_url):
    r = httpx.post(f"{base_url}/v1/search", json={"query": "Lojay", "limit": 5}, timeout=30)
    assert r.status_code == 200 and len(r.json()["results"]) == 5
    assert "Lojay" in r.json()["results"][0]["artists"]


@pytest.mark.parametrize(
    "content, status, field",
    [
        (json.dumps({"prompt": "   "}), 422, "prompt"),
        (json.dumps({"prompt": "x" * 2001}), 422, "prompt"),
        (json.dumps({"prompt": "x", "length": 0}), 422, "length"),
        (json.dumps({"prompt": "x", "length": 101}), 422, "length"),
        (json.dumps({"prompt": ["not", "text"]}), 422, "prompt"),
        (json.dumps({"prompt": "x", "length": "twenty"}), 422, "length"),
        ("this is not json", 400, "body"),
        (json.dumps({"prompt": "x", "mood": "sad"}), 422, "mood"),
    ],
)
def test_bad_input_is_4xx_naming_the_field(base_url, content, status, field):
    r = httpx.post(f"{base_url}/v1/playlists", content=content, headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == "invalid_request" and body["details"][0]["field"] == field and body["message"]


def test_health_ready_and_docs(base_url):
    assert httpx.get(f"{base_url}/healthz").json()["status"] == "ok"
    ready = httpx.get(f"{base_url}/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    assert httpx.get(f"{base_url}/docs").status_code == 200
    spec = httpx.get(f"{base_url}/openapi.json").json()
    assert {"/v1/playlists", "/v1/search", "/healthz", "/readyz"} <= set(spec["paths"])
