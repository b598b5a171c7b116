"""The `helm test` hook's script, run for real against a local HTTP server speaking the API."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.k8s.k8s_support import one, render_with
from serving.intent.fallback import FastParser  # the real fast parser builds a real Intent
from serving.schemas import PlaylistRequest, PlaylistResponse

PORTS = range(8500, 8600)  # this worktree's port range


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    pytest.skip("no free port in 8500-8599")


def _answer(req: PlaylistRequest, n_tracks: int) -> dict:
    tracks = [{"track_id": f"t{i}", "title": f"Song {i}", "artists": ["A"], "album": None, "score": 1.0 - i / 100,
               "reason": "matches mood"} for i in range(n_tracks)]
    return PlaylistResponse(playlist_id="p1", request_id="r1", trace_id=None, arm="control", experiment_id=None,
                            tracks=tracks, intent=FastParser().parse(req.prompt),
                            versions={"ranker": "baseline-v1"}).model_dump(mode="json")


@pytest.fixture
def api():
    seen: list[dict] = []
    state = {"tracks": None}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            seen.append({"path": self.path, "body": body})
            req = PlaylistRequest.model_validate(body)  # the hook must send a valid request
            n = req.length if state["tracks"] is None else state["tracks"]
            data = json.dumps(_answer(req, n)).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", _free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], seen, state
    server.shutdown()


def _run_hook(port: int) -> subprocess.CompletedProcess:
    pod = one(render_with(), "Pod", "-test-first-prompt")
    container = pod["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    env["SEGUE_URL"] = f"http://127.0.0.1:{port}"
    assert container["command"] == ["python", "-c"]
    return subprocess.run([sys.executable, "-c", container["args"][0]], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)


def test_hook_passes_on_a_real_answer(api):
    port, seen, _ = api
    out = _run_hook(port)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1])["ok"] is True
    assert seen[0]["path"] == "/v1/playlists" and seen[0]["body"]["prompt"]


def test_hook_fails_on_an_empty_playlist(api):
    port, _, state = api
    state["tracks"] = 0
    out = _run_hook(port)
    assert out.returncode != 0 and "got 0" in out.stderr
