"""The README's request/response example, sent to a real graph."""

import json
import re
import shlex
from pathlib import Path

import httpx

README = Path(__file__).resolve().parents[2] / "README.md"


def _block(marker: str) -> str:
    m = re.search(rf"<!-- readme-example: {marker} -->\s*```\w*\n(.*?)```", README.read_text(), re.S)
    assert m, f"README lost its '{marker}' example"
    return m.group(1)


def test_readme_example_answers_as_documented(base_url):
    words = shlex.split(_block("request").replace("\\\n", " "))
    path = next(w for w in words if "/v1/" in w).split("8000", 1)[1]
    body = json.loads(words[words.index("-d") + 1])
    documented = json.loads(_block("response"))

    r = httpx.post(f"{base_url}{path}", json=body, timeout=30)
    assert r.status_code == 200, r.text
    got = r.json()
    assert set(got) == set(documented)
    assert got["intent"] == documented["intent"]
    assert set(got["versions"]) == set(documented["versions"])
    assert [t["track_id"] for t in got["tracks"]] == [t["track_id"] for t in documented["tracks"]]
    assert [t["reason"] for t in got["tracks"]] == [t["reason"] for t in documented["tracks"]]
