"""Helpers of the k8s tier: the pinned Helm/kubectl, rendering, and validation of rendered
objects the way an API server would (core kinds against the Kubernetes OpenAPI schemas of
each supported version, the RayService against the KubeRay CRD)."""

from __future__ import annotations

import copy
import functools
import re
import subprocess
from pathlib import Path
from typing import Any, Iterable

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils
import kubernetes_validate.version
import yaml
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "segue"
CRD_FILE = Path(__file__).parent / "data" / "kuberay-crds-v1.7.0" / "ray.io_rayservices.yaml"
KUBE_VERSIONS = ("1.29.0", "1.30.0", "1.31.0", "1.32.0", "1.33.0")
SCENARIOS = tuple(sorted(p.name for p in (CHART / "ci").glob("*-values.yaml")))
RELEASE = "segue-ci"
NAMESPACE = "segue-test"
# Kinds served by CRDs we do not hold schemas for: checked structurally by the cross-checks.
CRD_KINDS = {"RayService", "ServiceMonitor", "PodMonitor", "HTTPRoute"}


class HelmError(RuntimeError):
    pass


@functools.lru_cache(maxsize=1)
def tools_bin() -> Path:
    """The pinned helm/kubectl, fetched once by scripts/get-tools (cached under .tools/)."""
    out = subprocess.run([str(ROOT / "scripts" / "get-tools")], capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"scripts/get-tools failed ({out.returncode}):\n{out.stderr}")
    return Path(out.stdout.strip().splitlines()[-1])


def run_tool(tool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(tools_bin() / tool), *args], capture_output=True, text=True, timeout=120)


def helm(*args: str) -> str:
    out = run_tool("helm", *args)
    if out.returncode != 0:
        raise HelmError(out.stderr.strip() or out.stdout.strip())
    return out.stdout


def _values_args(values_files: Iterable[str], sets: Iterable[str]) -> list[str]:
    args: list[str] = []
    for f in values_files:
        args += ["-f", str(f)]
    for s in sets:
        args += ["--set", s]
    return args


@functools.lru_cache(maxsize=256)
def render(values_files: tuple[str, ...] = (), sets: tuple[str, ...] = (), kube_version: str = "1.33.0",
           extra: tuple[str, ...] = ()) -> tuple[dict, ...]:
    """`helm template` the chart; returns the rendered objects (test hooks included)."""
    text = helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--kube-version", kube_version,
                "--api-versions", "ray.io/v1", *_values_args(values_files, sets), *extra)
    return tuple(d for d in yaml.safe_load_all(text) if d)


def render_scenario(name: str, kube_version: str = "1.33.0") -> tuple[dict, ...]:
    return render((str(CHART / "ci" / name),), (), kube_version)


def render_with(*sets: str, files: tuple[str, ...] = ()) -> tuple[dict, ...]:
    """Render with the minimal CI scenario plus --set overrides (a valid base for toggles)."""
    return render((str(CHART / "ci" / "minimal-cpu-values.yaml"), *files), tuple(sets))


def by_kind(objs: Iterable[dict], kind: str) -> list[dict]:
    return [o for o in objs if o["kind"] == kind]


def one(objs: Iterable[dict], kind: str, name_suffix: str = "") -> dict:
    found = [o for o in by_kind(objs, kind) if o["metadata"]["name"].endswith(name_suffix)]
    assert len(found) == 1, f"expected one {kind} named *{name_suffix}, found {[o['metadata']['name'] for o in found]}"
    return found[0]


# ---------------------------------------------------------------- core kinds

@functools.lru_cache(maxsize=None)
def _core_validator(kind: str, api_version: str, kube_version: str) -> jsonschema.Validator:
    """kubernetes-validate's strict schema for (kind, apiVersion, version), built once: its own
    validate() re-reads the multi-MB definitions file on every call."""
    version = kube_version.removeprefix("v")
    if version not in kubernetes_validate.utils.all_versions():
        raise AssertionError(f"kubernetes-validate {kubernetes_validate.version.__version__} has no schemas for "
                             f"Kubernetes {version}; upgrade it (pip install -U kubernetes-validate)")
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    folder = f"kubernetes-json-schema/v{version}-local-strict"
    try:
        schema = kubernetes_validate.utils.schema_contents(f"{folder}/{kind.lower()}-{group}.json", version)
    except FileNotFoundError:
        raise AssertionError(f"{kind} {api_version} does not exist in Kubernetes {version} "
                             f"(removed or never served): an API server would reject it") from None
    definitions = kubernetes_validate.utils.schema_contents(f"{folder}/_definitions.json", version)
    registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.Draft202012Validator(schema, registry=registry)


def validate_core(obj: dict, kube_version: str) -> None:
    """Strict validation against the Kubernetes OpenAPI schema of that version (unknown
    fields rejected). Raises AssertionError naming the object and every failing path."""
    validator = _core_validator(obj["kind"], obj["apiVersion"], kube_version)
    errors = sorted(validator.iter_errors(obj), key=lambda e: list(e.path))
    if errors:
        lines = [f"  {'.'.join(str(p) for p in e.path) or '(root)'}: {e.message}" for e in errors[:20]]
        raise AssertionError(f"{obj['kind']}/{obj['metadata']['name']} invalid for Kubernetes {kube_version}:\n"
                             + "\n".join(lines))


def pod_from_template(template: dict, name: str) -> dict:
    """Wrap a pod template as a Pod, so the pod spec inside a CRD or workload can be
    checked against the Kubernetes version's own Pod schema."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **template.get("metadata", {})},
            "spec": template["spec"]}


# ---------------------------------------------------------------- CRDs

@functools.lru_cache(maxsize=1)
def rayservice_schema() -> dict:
    crd = yaml.load(CRD_FILE.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    assert version["served"] and version["storage"], "ray.io/v1 must be the served storage version"
    return version["schema"]["openAPIV3Schema"]


def _strict(schema: Any) -> Any:
    """additionalProperties: false on every object schema with properties and no other rule
    for unknown keys: where the API server would prune (silently drop) a misspelt field."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items()}
    if ("properties" in out and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


def _drop_nulls_and_default(schema: dict, value: Any) -> Any:
    """What the API server does before validating a custom resource: drop nulls on
    non-nullable fields, then apply `default:` values of absent fields."""
    if isinstance(value, dict) and "properties" in schema:
        props = schema["properties"]
        out = {}
        for k, v in value.items():
            sub = props.get(k)
            if v is None and not (sub or {}).get("nullable"):
                continue
            out[k] = _drop_nulls_and_default(sub, v) if sub else v
        for k, sub in props.items():
            if k not in out and "default" in sub:
                out[k] = copy.deepcopy(sub["default"])
        return out
    if isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        return {k: _drop_nulls_and_default(schema["additionalProperties"], v) for k, v in value.items()}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_drop_nulls_and_default(schema["items"], v) for v in value]
    return value


@functools.lru_cache(maxsize=1)
def _rayservice_validator() -> jsonschema.Draft7Validator:
    # OpenAPI v3 schemas of CRDs are draft-4-like; `nullable` and x-kubernetes-* are ignored.
    return jsonschema.Draft7Validator(_strict(rayservice_schema()))


def validate_rayservice(obj: dict, kube_version: str = "1.33.0") -> dict:
    """Validate a RayService as the API server with the KubeRay v1.7.0 CRD would; returns
    the defaulted object. Metadata is checked as ObjectMeta (the CRD leaves it to the server)."""
    assert obj["apiVersion"] == "ray.io/v1" and obj["kind"] == "RayService"
    defaulted = _drop_nulls_and_default(rayservice_schema(), copy.deepcopy(obj))
    errors = sorted(_rayservice_validator().iter_errors(defaulted), key=lambda e: list(e.path))
    if errors:
        lines = [f"  {'.'.join(str(p) for p in e.path) or '(root)'}: {e.message}" for e in errors[:20]]
        raise AssertionError(f"RayService/{obj['metadata']['name']} rejected by the KubeRay v1.7.0 CRD:\n"
                             + "\n".join(lines))
    validate_core({"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj["metadata"]}, kube_version)
    return defaulted


def rayservice_pod_templates(rs: dict) -> list[tuple[str, dict]]:
    rc = rs["spec"]["rayClusterConfig"]
    out = [("head", rc["headGroupSpec"]["template"])]
    out += [(g["groupName"], g["template"]) for g in rc.get("workerGroupSpecs", [])]
    return out


def serve_config(rs: dict) -> dict:
    return yaml.safe_load(rs["spec"]["serveConfigV2"])


def labels_match(selector: dict, labels: dict) -> bool:
    """Kubernetes label-selector semantics (matchLabels and matchExpressions)."""
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, vals = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in vals:
            return False
        if op == "NotIn" and key in labels and labels[key] in vals:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True
