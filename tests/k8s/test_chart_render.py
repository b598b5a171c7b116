"""Every CI scenario lints clean under --strict and renders objects an API server would accept."""

from __future__ import annotations

import pytest
import yaml

from tests.k8s.k8s_support import (CHART, CRD_KINDS, KUBE_VERSIONS, SCENARIOS, by_kind, helm, pod_from_template,
                         rayservice_pod_templates, render_scenario, validate_core, validate_rayservice)


def test_every_documented_scenario_exists():
    assert set(SCENARIOS) == {"minimal-cpu-values.yaml", "gpu-intent-values.yaml",
                              "canary-experiment-values.yaml", "everything-on-values.yaml"}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_lint_strict(scenario):
    out = helm("lint", "--strict", str(CHART), "-f", str(CHART / "ci" / scenario))
    assert "0 chart(s) failed" in out
    assert "[WARNING]" not in out and "[ERROR]" not in out, out


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_core_objects_valid_strict(scenario, kube_version):
    objs = render_scenario(scenario, kube_version)
    checked = 0
    for obj in objs:
        if obj["kind"] in CRD_KINDS:
            continue
        validate_core(obj, kube_version)
        checked += 1
    assert checked >= 3, f"only {checked} core objects rendered"


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_rayservice_valid_against_kuberay_crd(scenario, kube_version):
    [rs] = by_kind(render_scenario(scenario, kube_version), "RayService")
    defaulted = validate_rayservice(rs, kube_version)
    # The CRD's only CEL rules outside pod specs guard managedBy, which the chart leaves to KubeRay.
    assert "managedBy" not in rs["spec"] and "managedBy" not in rs["spec"]["rayClusterConfig"]
    # The embedded pod specs must also be valid Pods of that Kubernetes version (the CRD
    # schema was generated from a newer API and would accept fields an older kubelet lacks).
    for group, template in rayservice_pod_templates(defaulted):
        validate_core(pod_from_template(template, f"ray-{group}"), kube_version)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_object_renders_twice(scenario):
    keys = [(o["kind"], o["metadata"]["name"]) for o in render_scenario(scenario)]
    assert len(keys) == len(set(keys)), keys


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_names_fit_dns_labels(scenario):
    for obj in render_scenario(scenario):
        name = obj["metadata"]["name"]
        assert len(name) <= 63 and name == name.lower(), name


def test_long_release_name_keeps_kuberay_derived_names_short():
    long = "a-very-long-release-name-for-a-platform-team-xyz-abcd"  # 53: Helm's limit
    assert len(long) == 53
    text = helm("template", long, str(CHART), "--api-versions", "ray.io/v1",
                "-f", str(CHART / "ci" / "everything-on-values.yaml"))
    objs = [d for d in yaml.safe_load_all(text) if d]
    [rs] = by_kind(objs, "RayService")
    # KubeRay appends "-serve-svc" / "-head-svc" / "-xxxxx": they must stay within 63.
    assert len(rs["metadata"]["name"] + "-serve-svc") <= 63
    for obj in objs:
        assert len(obj["metadata"]["name"]) <= 63, obj["metadata"]["name"]


def test_crd_validation_is_not_vacuous():
    """The RayService check defaults like the API server and rejects what it would reject."""
    import copy

    [rs] = by_kind(render_scenario("minimal-cpu-values.yaml"), "RayService")
    defaulted = validate_rayservice(rs)
    assert defaulted["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["numOfHosts"] == 1  # a CRD default
    typo = copy.deepcopy(rs)
    typo["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["maxReplica"] = 3
    with pytest.raises(AssertionError, match="maxReplica"):
        validate_rayservice(typo)
    wrong = copy.deepcopy(rs)
    wrong["spec"]["rayClusterConfig"]["enableInTreeAutoscaling"] = "yes"
    with pytest.raises(AssertionError, match="enableInTreeAutoscaling"):
        validate_rayservice(wrong)
    bad_pod = copy.deepcopy(rs)
    bad_pod["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = 3
    with pytest.raises(AssertionError):
        validate_rayservice(bad_pod)


def test_core_validation_is_not_vacuous():
    import copy

    objs = render_scenario("everything-on-values.yaml")
    [np] = [o for o in objs if o["kind"] == "NetworkPolicy" and o["metadata"]["name"].endswith("-ray")]
    bad = copy.deepcopy(np)
    bad["spec"]["ingress"][0]["port"] = 8000  # misplaced key
    with pytest.raises(AssertionError, match="port"):
        validate_core(bad, "1.29.0")
    gone = {"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget", "metadata": {"name": "x"}, "spec": {}}
    with pytest.raises(AssertionError, match="does not exist in Kubernetes 1.29"):
        validate_core(gone, "1.29.0")
