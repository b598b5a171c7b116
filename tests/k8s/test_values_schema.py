"""values.schema.json rejects bad values with a message naming the key, and mirrors AppConfig."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.k8s.k8s_support import CHART, HelmError, helm, render_with

from serving.config import AppConfig

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
MINIMAL = str(CHART / "ci" / "minimal-cpu-values.yaml")


def _template_error(tmp_path, values: dict | str) -> str:
    f = tmp_path / "values.yaml"
    f.write_text(values if isinstance(values, str) else yaml.safe_dump(values))
    with pytest.raises(HelmError) as e:
        helm("template", "t", str(CHART), "--api-versions", "ray.io/v1", "-f", MINIMAL, "-f", str(f))
    return str(e.value)


@pytest.mark.parametrize("values, key, why", [
    ({"app": {"intnet": {"backend": "vllm"}}}, "/app", "additional properties 'intnet' not allowed"),
    ({"app": {"deployments": {"retriver": {}}}}, "/app/deployments", "'retriver' not allowed"),
    ({"app": {"deployments": {"ingress": {"autoscaling": {"max_replica": 3}}}}},
     "/app/deployments/ingress/autoscaling", "'max_replica' not allowed"),
    ({"ray": {"cpuWorkers": {"maxReplicas": "ten"}}}, "/ray/cpuWorkers/maxReplicas", "got string, want integer"),
    ({"app": {"retrieval": {"top_k": "200"}}}, "/app/retrieval/top_k", "got string, want integer"),
    ({"app": {"intent": {"backend": "gpt"}}}, "/app/intent/backend", "value must be one of"),
    ({"tracing": {"samplingRatio": 2}}, "/tracing/samplingRatio", "maximum"),
    ({"otelCollector": {"enabeld": True}}, "/otelCollector", "'enabeld' not allowed"),
    ({"imageTag": "0.1.0"}, "(root)", "'imageTag' not allowed"),
    ({"ray": {"gpuWorkers": {"gpusPerPod": 0}}}, "/ray/gpuWorkers/gpusPerPod", "minimum"),
    ({"ray": {"head": {"rayStartParams": {"num-cpus": 0}}}}, "/ray/head/rayStartParams/num-cpus",
     "got number, want string"),
    ({"app": {"deployments": {"intent": {"resources": {"num_gpus": "one"}}}}},
     "/app/deployments/intent/resources/num_gpus", "want number"),
])
def test_bad_values_fail_the_schema_naming_the_key(tmp_path, values, key, why):
    err = _template_error(tmp_path, values)
    assert "values don't meet the specifications of the schema" in err, err
    where = "at ''" if key == "(root)" else f"at '{key}'"
    assert where in err and why in err, err


def test_latest_tag_is_refused_with_the_reason(tmp_path):
    err = _template_error(tmp_path, {"image": {"tag": "latest"}})
    assert "image.tag: 'latest' is not allowed" in err


def test_image_tag_defaults_to_app_version():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    import tomllib
    from tests.k8s.k8s_support import ROOT
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert chart["appVersion"] == version
    rs = next(o for o in render_with() if o["kind"] == "RayService")
    image = rs["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith(f":{version}")
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["image"]["tag"] == ""


def test_admin_token_is_never_a_fixed_default():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["adminToken"]["value"] == "" and values["adminToken"]["existingSecret"] == ""
    # Rendering with no values works and generates a token (tests/k8s/test_admin_token.py).
    helm("template", "t", str(CHART), "--api-versions", "ray.io/v1")


def test_tracing_without_a_destination_is_refused(tmp_path):
    err = _template_error(tmp_path, {"tracing": {"enabled": True}, "otelCollector": {"enabled": False}})
    assert "tracing.enabled is true but there is nowhere to send spans" in err


def test_httproute_needs_a_gateway(tmp_path):
    err = _template_error(tmp_path, {"httpRoute": {"enabled": True}})
    assert "httpRoute.parentRefs" in err


def _model_tree(model) -> dict:
    """AppConfig's field tree: nested models become dicts, leaves their JSON-schema bits."""
    out = {}
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and hasattr(ann, "model_fields"):
            out[name] = _model_tree(ann)
        else:
            out[name] = field
    return out


def _check_mirror(schema: dict, tree: dict, path: str) -> list[str]:
    problems = []
    props = schema.get("properties") or SCHEMA["$defs"][schema["$ref"].rsplit("/", 1)[1]]["properties"] \
        if "$ref" in schema else schema["properties"]
    if "$ref" in schema:
        schema = SCHEMA["$defs"][schema["$ref"].rsplit("/", 1)[1]]
        props = schema["properties"]
    assert schema.get("additionalProperties") is False, f"{path}: the chart schema must reject unknown keys"
    for key, sub in props.items():
        if key not in tree:
            problems.append(f"{path}.{key}: in the chart schema but not in AppConfig")
            continue
        if isinstance(tree[key], dict):
            problems += _check_mirror(sub, tree[key], f"{path}.{key}")
            continue
        field = tree[key]
        for meta in field.metadata:  # pydantic Ge/Gt/Le constraints must match the schema's bounds
            for attr, jkey in (("ge", "minimum"), ("gt", "exclusiveMinimum"), ("le", "maximum")):
                if getattr(meta, attr, None) is not None and sub.get(jkey) != getattr(meta, attr):
                    problems.append(f"{path}.{key}: AppConfig has {attr}={getattr(meta, attr)}, schema {jkey}={sub.get(jkey)}")
    return problems


def test_app_schema_mirrors_app_config():
    tree = _model_tree(AppConfig)
    del tree["http"]  # the RayService's proxy settings replace it
    del tree["experiment"]  # set by the top-level `experiment` value (args and the Ingress user_config)
    # Ray reads tracing from the pods' environment, which the chart's `tracing:` values set.
    del tree["telemetry"]
    problems = _check_mirror(SCHEMA["properties"]["app"], tree, "app")
    assert not problems, "\n".join(problems)
    # Every AppConfig section a platform team sets is settable from the chart.
    assert set(SCHEMA["properties"]["app"]["properties"]) == set(tree), set(tree) ^ set(SCHEMA["properties"]["app"]["properties"])


def test_default_values_are_a_valid_app_config():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    AppConfig.from_dict(values["app"], source="helm/segue/values.yaml app")
