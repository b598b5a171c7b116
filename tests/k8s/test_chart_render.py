"""Every CI scenario lints clean under --strict and renders objects an API server would accept."""

from __future__ import annotations

import pytest

from k8s_support import (CHART, CRD_KINDS, KUBE_VERSIONS, SCENARIOS, by_kind, helm, pod_from_template,
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
    from k8s_support import render
    long = "a-very-long-release-name-for-a-platform-team-xyz-abcd"  # 53: Helm's limit
    assert len(long) == 53
    text = helm("template", long, str(CHART), "--api-versions", "ray.io/v1",
                "-f", str(CHART / "ci" / "everything-on-values.yaml"))
    import yaml
    objs = [d for d in yaml.safe_load_all(text) if d]
    [rs] = by_kind(objs, "RayService")
    # KubeRay appends "-serve-svc" / "-head-svc" / "-xxxxx": they must stay within 63.
    assert len(rs["metadata"]["name"] + "-serve-svc") <= 63
    for obj in objs:
        assert len(obj["metadata"]["name"]) <= 63, obj["metadata"]["name"]
    del render
