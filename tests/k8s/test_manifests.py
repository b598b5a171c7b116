"""k8s/: the kustomize install path renders, validates, and stays in sync with the chart."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from tests.k8s.k8s_support import (CRD_KINDS, KUBE_VERSIONS, ROOT, by_kind, one, run_tool, validate_core,
                         validate_rayservice)

OVERLAYS = ("dev", "prod")


def _kustomize(path: str) -> list[dict]:
    out = run_tool("kubectl", "kustomize", str(ROOT / path))
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def test_plain_manifests_match_the_chart():
    out = subprocess.run([str(ROOT / "scripts" / "render-manifests"), "--stdout"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == (ROOT / "k8s" / "base" / "segue.yaml").read_text(), \
        "k8s/base/segue.yaml is stale: run scripts/render-manifests"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_valid_objects(overlay):
    objs = _kustomize(f"k8s/overlays/{overlay}")
    ns = one(objs, "Namespace")["metadata"]["name"]
    for obj in objs:
        if obj["kind"] not in ("Namespace", "PriorityClass"):
            assert obj["metadata"].get("namespace") == ns, obj["metadata"]["name"]
    for version in (KUBE_VERSIONS[0], KUBE_VERSIONS[-1]):
        for obj in objs:
            if obj["kind"] in CRD_KINDS:
                continue
            validate_core(obj, version)
        validate_rayservice(one(objs, "RayService"), version)
    # Pods ask for the priority classes the base creates.
    classes = {pc["metadata"]["name"] for pc in by_kind(objs, "PriorityClass")}
    rc = one(objs, "RayService")["spec"]["rayClusterConfig"]
    used = {rc["headGroupSpec"]["template"]["spec"]["priorityClassName"]}
    used |= {g["template"]["spec"]["priorityClassName"] for g in rc["workerGroupSpecs"]}
    assert used <= classes


def test_dev_overlay_is_smaller_than_prod():
    dev = one(_kustomize("k8s/overlays/dev"), "RayService")["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]
    prod = one(_kustomize("k8s/overlays/prod"), "RayService")["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]
    assert dev["maxReplicas"] < prod["maxReplicas"] and dev["minReplicas"] <= prod["minReplicas"]


def test_operator_pointer_pins_the_tested_kuberay_release():
    k = yaml.safe_load((ROOT / "k8s" / "operator" / "kustomization.yaml").read_text())
    [remote] = k["resources"]
    assert remote.endswith("?ref=v1.7.0") and "ray-project/kuberay" in remote
    assert (ROOT / "tests" / "k8s" / "data" / "kuberay-crds-v1.7.0" / "ray.io_rayservices.yaml").is_file()
