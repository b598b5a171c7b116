"""An in-process fake Kubernetes API server for the rollout controller's tests (a test
double, not product code). Enough of the real semantics for the official client:
resourceVersion on every write and 409 Conflict on a stale one, 409 AlreadyExists,
404 NotFound, merge patch (RFC 7386) and JSON patch (RFC 6902, with `test`), Status
bodies, and a validation hook that rejects RayServices the KubeRay CRD schema
rejects (422 Invalid)."""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import threading
import uuid
from pathlib import Path

import jsonschema
import yaml
from aiohttp import web

# The released KubeRay v1.7.0 CRD, copied into the test data (see its README there).
CRD = Path(__file__).resolve().parent / "data" / "kuberay-crds-v1.7.0" / "ray.io_rayservices.yaml"


@functools.lru_cache(maxsize=1)
def rayservice_validator():
    crd = yaml.load(CRD.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    schema = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")["schema"]["openAPIV3Schema"]
    return jsonschema.Draft7Validator(schema)


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def json_patch(doc, ops):
    doc = copy.deepcopy(doc)
    for op in ops:
        *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].lstrip("/").split("/")]
        node = doc
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
        key = int(last) if isinstance(node, list) and last != "-" else last
        if op["op"] == "test":
            if (node.get(key) if isinstance(node, dict) else node[key]) != op["value"]:
                raise ValueError(f"test failed at {op['path']}")
        elif op["op"] in ("add", "replace"):
            if isinstance(node, list) and key == "-":
                node.append(op["value"])
            else:
                node[key] = op["value"]
        elif op["op"] == "remove":
            del node[key]
        else:
            raise ValueError(f"unsupported op {op['op']}")
    return doc


def status(code: int, reason: str, message: str) -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
    return web.json_response(body, status=code)


class FakeApiServer:
    def __init__(self):
        self.objects: dict[tuple[str, str, str], dict] = {}  # (plural, namespace, name) -> object
        self.requests: list[tuple[str, str]] = []  # (method, path) of every call, to assert the verbs used
        self.validators = {"rayservices": rayservice_validator()}
        self.concurrent_writes: dict[str, int] = {}  # plural -> next N writes meet a concurrent writer first
        self._rv = 100
        self._lock = threading.Lock()

    # -- helpers for tests --------------------------------------------------------------------
    def put(self, plural: str, obj: dict) -> dict:
        with self._lock:
            return self._store(plural, obj["metadata"].get("namespace", "default"), copy.deepcopy(obj))

    def get(self, plural: str, namespace: str, name: str) -> dict | None:
        return copy.deepcopy(self.objects.get((plural, namespace, name)))

    def _store(self, plural, ns, obj):
        self._rv += 1
        md = obj.setdefault("metadata", {})
        md.update(namespace=ns, resourceVersion=str(self._rv))
        md.setdefault("uid", str(uuid.uuid4()))
        md.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
        self.objects[(plural, ns, md["name"])] = obj
        return obj

    def _invalid(self, plural, obj) -> str | None:
        v = self.validators.get(plural)
        if v is None:
            return None
        errs = sorted(v.iter_errors(obj), key=lambda e: list(e.path))
        return "; ".join(f"{'.'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errs[:5]) or None

    # -- HTTP ---------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.Response:
        parts = request.path.strip("/").split("/")
        self.requests.append((request.method, request.path))
        # /api/v1/namespaces/NS/PLURAL[/NAME] or /apis/GROUP/VERSION/namespaces/NS/PLURAL[/NAME]
        i = parts.index("namespaces")
        ns, plural, name = parts[i + 1], parts[i + 2], (parts[i + 3] if len(parts) > i + 3 else None)
        with self._lock:
            key = (plural, ns, name)
            cur = self.objects.get(key)
            if request.method == "GET":
                if name is None:
                    items = [o for (p, n, _), o in self.objects.items() if p == plural and n == ns]
                    return web.json_response({"kind": "List", "apiVersion": "v1", "metadata": {}, "items": items})
                return web.json_response(cur) if cur else status(404, "NotFound", f'{plural} "{name}" not found')
            body = json.loads(await request.text() or "null")
            if request.method == "POST":
                name = body["metadata"]["name"]
                if (plural, ns, name) in self.objects:
                    return status(409, "AlreadyExists", f'{plural} "{name}" already exists')
                if why := self._invalid(plural, body):
                    return status(422, "Invalid", f"{plural} {name} is invalid: {why}")
                return web.json_response(self._store(plural, ns, body), status=201)
            if cur is None:
                return status(404, "NotFound", f'{plural} "{name}" not found')
            if self.concurrent_writes.get(plural, 0) > 0:  # someone else wrote just before us
                self.concurrent_writes[plural] -= 1
                cur = self._store(plural, ns, merge_patch(cur, {"metadata": {"annotations": {"touched": str(self._rv)}}}))
            ctype = request.content_type
            try:
                if request.method == "PATCH" and ctype == "application/merge-patch+json":
                    new = merge_patch(cur, body)
                elif request.method == "PATCH" and ctype == "application/json-patch+json":
                    new = json_patch(cur, body)
                elif request.method == "PUT":
                    new = body
                else:
                    return status(415, "UnsupportedMediaType", f"unsupported {request.method} content type {ctype}")
            except (ValueError, KeyError, IndexError) as e:
                return status(422, "Invalid", f"patch failed: {e}")
            want = (body.get("metadata") or {}).get("resourceVersion") if isinstance(body, dict) else None
            if want is not None and want != cur["metadata"]["resourceVersion"]:
                return status(409, "Conflict", f'Operation cannot be fulfilled on {plural} "{name}": the object has '
                              "been modified; please apply your changes to the latest version and try again")
            if why := self._invalid(plural, new):
                return status(422, "Invalid", f"{plural} {name} is invalid: {why}")
            return web.json_response(self._store(plural, ns, new))

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> str:
        ready = threading.Event()

        def run():
            self._loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self.handle)
            self._runner = web.AppRunner(app)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            self._loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
