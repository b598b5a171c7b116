"""`helm install segue helm/segue` with no values works: the chart generates the admin token
Secret, keeps it across upgrades (`lookup` against the cluster), and NOTES.txt says how to
read it. The upgrade is rendered with the real helm against a small API server that serves
discovery for the rendered kinds and the Secret a first install created."""

from __future__ import annotations

import asyncio
import base64
import threading

import yaml
from aiohttp import web

from tests.conftest import free_port
from tests.k8s.k8s_support import CHART, helm, one, render, run_tool


def _secret(objs) -> dict:
    return one(objs, "Secret", "-admin")


def _token(secret: dict) -> str:
    return base64.b64decode(secret["data"]["token"]).decode()


def test_default_install_generates_an_admin_token_and_says_how_to_read_it(tmp_path):
    out = run_tool("helm", "install", "segue", str(CHART), "--dry-run=client", "--namespace", "music")
    assert out.returncode == 0, out.stderr  # no values at all
    manifest, notes = out.stdout.split("NOTES:", 1)
    objs = [d for d in yaml.safe_load_all(manifest.split("MANIFEST:", 1)[1]) if d]
    secret = _secret(objs)
    token = _token(secret)
    assert len(token) == 48 and token.isalnum()
    assert secret["metadata"]["annotations"]["segue.dev/generated"] == "true"
    rs = one(objs, "RayService")
    envs = [e for c in rs["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"]
            for e in c.get("env", [])]
    ref = next(e for e in envs if e["name"] == "SEGUE_ADMIN_TOKEN")["valueFrom"]["secretKeyRef"]
    assert ref == {"name": secret["metadata"]["name"], "key": "token"}
    assert (f"kubectl -n music get secret {secret['metadata']['name']} -o jsonpath='{{.data.token}}' | base64 -d"
            in notes)
    # A second fresh render (no cluster to look up) draws a new random token: never a fixed default.
    assert _token(_secret(render())) != token


class DiscoveryServer:
    """Discovery for the kinds in `objs` plus GET of the Secrets in `secrets` (namespace, name)."""

    def __init__(self, objs, secrets: dict[tuple[str, str], dict]):
        self.port = free_port()
        self.secrets = secrets
        self.groups: dict[str, dict[str, dict]] = {}  # group/version -> kind -> resource
        for o in objs:
            gv, kind = o["apiVersion"], o["kind"]
            self.groups.setdefault(gv, {})[kind] = {
                "name": kind.lower() + ("es" if kind.endswith("s") else "s"), "singularName": kind.lower(),
                "namespaced": True, "kind": kind, "verbs": ["get", "list", "create", "update", "patch", "delete"]}
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        self._started.wait(10)

    def _run(self):
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._started.set()
        self._loop.run_forever()

    async def _handle(self, req: web.Request) -> web.Response:
        p = req.path
        if p == "/version":
            return web.json_response({"major": "1", "minor": "33", "gitVersion": "v1.33.0"})
        if p == "/api":
            return web.json_response({"kind": "APIVersions", "versions": ["v1"]})
        if p == "/apis":
            groups = {}
            for gv in self.groups:
                if "/" in gv:
                    g, v = gv.split("/")
                    groups.setdefault(g, []).append({"groupVersion": gv, "version": v})
            return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": vs, "preferredVersion": vs[0]} for g, vs in groups.items()]})
        gv = p.removeprefix("/api/").removeprefix("/apis/") if p.count("/") <= 3 else None
        if gv in self.groups or (p == "/api/v1"):
            gv = "v1" if p == "/api/v1" else gv
            return web.json_response({"kind": "APIResourceList", "groupVersion": gv,
                                      "resources": list(self.groups.get(gv, {}).values())})
        parts = p.strip("/").split("/")
        if len(parts) == 6 and parts[:2] == ["api", "v1"] and parts[4] == "secrets":
            secret = self.secrets.get((parts[3], parts[5]))
            if secret is not None:
                return web.json_response(secret)
        return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                                  "code": 404}, status=404)

    def kubeconfig(self, path) -> str:
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{self.port}"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "namespace": "music"}}],
            "users": [{"name": "fake", "user": {}}]}))
        return str(path)

    def stop(self):
        self._loop.call_soon_threadsafe(self._loop.stop)


def test_upgrade_keeps_the_generated_token(tmp_path):
    first = render(extra=("--namespace", "music"))  # what the first install created
    meta = _secret(first)["metadata"]
    installed = dict(_secret(first), metadata={**meta, "namespace": "music", "annotations": {
        **meta.get("annotations", {}),  # as Helm marks what it installed
        "meta.helm.sh/release-name": "segue-ci", "meta.helm.sh/release-namespace": "music"}})
    server = DiscoveryServer(first, {("music", installed["metadata"]["name"]): installed})
    try:
        kubeconfig = server.kubeconfig(tmp_path / "kubeconfig")
        again = [d for d in yaml.safe_load_all(helm(
            "template", "segue-ci", str(CHART), "--namespace", "music", "--dry-run=server",
            "--disable-openapi-validation", "--kubeconfig", kubeconfig)) if d]
    finally:
        server.stop()
    assert _token(_secret(again)) == _token(installed)  # looked up, not regenerated
