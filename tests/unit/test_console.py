"""The console's pages, assets and config over the real API routes (fake stages, no Ray)."""

import re

from fastapi.testclient import TestClient

from serving.console.routes import CSP, STATIC, load_assets
from tests.unit.console_app import console_api


def _client(monkeypatch, token="console-secret-token"):
    monkeypatch.setenv("SEGUE_ADMIN_TOKEN", token)
    api, core = console_api()
    return TestClient(api), core


def test_pages_and_assets_are_served_with_a_strict_csp(monkeypatch):
    c, _ = _client(monkeypatch)
    for path in ("/ui", "/ui/sessions", "/ui/experiments/ui-exp"):
        r = c.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert r.headers["content-security-policy"] == CSP
        assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP and "unsafe-eval" not in CSP
        assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
        # every script and stylesheet a page names is served (paths are relative to the page)
        for ref in re.findall(r'(?:src|href)="([^"#]+\.(?:js|css))"', r.text):
            name = ref.rsplit("/", 1)[-1]
            asset = c.get(f"/ui/static/{name}")
            assert asset.status_code == 200 and asset.headers["content-security-policy"] == CSP, ref
    assert c.get("/ui/static/experiment.js").headers["content-type"].startswith("text/javascript")


def test_unknown_asset_is_a_json_404_naming_the_file(monkeypatch):
    c, _ = _client(monkeypatch)
    r = c.get("/ui/static/..%2Fconfig.py")
    assert r.status_code == 404
    r = c.get("/ui/static/nope.js")
    assert r.status_code == 404 and "no console file 'nope.js'" in r.json()["message"]


def test_no_secret_and_no_third_party_origin_reaches_the_browser(monkeypatch):
    c, _ = _client(monkeypatch)
    cfg = c.get("/ui/config.json").json()
    assert cfg["experiment"]["admin_enabled"] is True
    assert [a["name"] for a in cfg["experiment"]["arms"]] == ["control", "canary"]
    bodies = [c.get("/ui").text, c.get("/ui/sessions").text, c.get("/ui/experiments/x").text,
              c.get("/ui/config.json").text]
    bodies += [c.get(f"/ui/static/{n}").text for n in load_assets()]
    assert not any("console-secret-token" in b for b in bodies)
    for name, (body, _) in load_assets().items():
        urls = set(re.findall(rb"https?://[^\s\"'`)]+", body)) - {b"http://www.w3.org/2000/svg"}
        assert not urls, f"{name} refers to {urls}: the console ships everything it needs"
        assert b"innerHTML" not in body and b"eval(" not in body, name


def test_cors_stays_closed_for_the_console(monkeypatch):
    c, _ = _client(monkeypatch)
    r = c.options("/v1/playlists", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers
    assert "access-control-allow-origin" not in c.get("/ui", headers={"Origin": "https://evil.example"}).headers


def test_weights_history_records_each_split_and_its_reason(monkeypatch):
    c, core = _client(monkeypatch)
    c.post("/v1/playlists", json={"prompt": "jazz", "user_id": "u"})
    exp = core.experiments.experiment
    core.reconfigure({"experiment": exp.with_weights({"control": 0.9, "canary": 0.1}, "advance: guardrails held")
                      .model_dump(mode="json")})
    core.reconfigure({"experiment": core.experiments.experiment.model_dump(mode="json")})  # same split: no entry
    hist = c.get("/v1/experiments/ui-exp").json()["weights_history"]
    assert [h["weights"]["canary"] for h in hist] == [0.5, 0.1]
    assert hist[0]["reason"] == "in force at start-up" and hist[1]["reason"] == "advance: guardrails held"
    assert hist[1]["generation"] == 1 and hist[1]["at"] >= hist[0]["at"]


def test_assets_ship_in_the_package():
    import tomllib
    from pathlib import Path

    data = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert "console/static/*" in data["tool"]["setuptools"]["package-data"]["serving"]
    assert {"playground.html", "experiment.html", "console.css"} <= {p.name for p in STATIC.iterdir()}
