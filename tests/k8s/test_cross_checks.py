"""Cross-checks between what the chart renders and what the code and the cluster expect."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest
import yaml

from tests.k8s.k8s_support import (CHART, ROOT, SCENARIOS, by_kind, labels_match, one, rayservice_pod_templates,
                         render_scenario, serve_config)

serve_schema = pytest.importorskip("ray.serve.schema", reason="ray[serve] is needed to check serveConfigV2")
from serving.config import AppConfig  # noqa: E402

DEPLOYMENT_KEYS = {"Ingress": "ingress", "IntentModel": "intent", "Retriever": "retriever", "Ranker": "ranker"}


def _rayservice(scenario: str) -> dict:
    return one(render_scenario(scenario), "RayService")


def _deployment_names(app) -> set[str]:
    """Every deployment of a built Serve application (the ingress and all it binds)."""
    from ray.serve.deployment import Application

    names, todo = set(), [app]
    while todo:
        d = todo.pop()._bound_deployment
        names.add(d.name)
        todo += [a for a in (*d.init_args, *d.init_kwargs.values()) if isinstance(a, Application)]
    return names


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_serve_config_is_a_valid_ray_serve_config(scenario):
    cfg = serve_config(_rayservice(scenario))
    parsed = serve_schema.ServeDeploySchema.model_validate(cfg)
    # Ray's schema tolerates unknown keys: check them against its fields ourselves.
    allowed_app = set(serve_schema.ServeApplicationSchema.model_fields)
    allowed_dep = set(serve_schema.DeploymentSchema.model_fields)
    for app in cfg["applications"]:
        assert set(app) <= allowed_app, set(app) - allowed_app
        for dep in app["deployments"]:
            assert set(dep) <= allowed_dep, (dep["name"], set(dep) - allowed_dep)
            assert set(dep["ray_actor_options"]) <= set(serve_schema.RayActorOptionsSchema.model_fields)
    assert parsed.http_options.port == cfg["http_options"]["port"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_args_are_a_valid_app_config_and_build_the_same_graph(scenario):
    from serving.app import OUTCOME_STORE_OPTIONS, build_app

    [app] = serve_config(_rayservice(scenario))["applications"]
    # import_path resolves to the builder in the package.
    module, _, attr = app["import_path"].partition(":")
    assert callable(getattr(importlib.import_module(module), attr))
    config = AppConfig.from_dict(app["args"], source=f"{scenario} serveConfigV2 args")
    assert app["name"] == config.name and app["route_prefix"] == config.route_prefix
    # The deployments listed in the Serve config are exactly the ones the app builds...
    built = _deployment_names(build_app(config))
    assert built == {d["name"] for d in app["deployments"]} == set(DEPLOYMENT_KEYS) | {"OutcomeStore"}
    # ...and their options are what the app itself would give them, so the two can't disagree.
    for dep in app["deployments"]:
        if dep["name"] == "OutcomeStore":
            assert {k: v for k, v in dep.items() if k != "name"} == OUTCOME_STORE_OPTIONS
            continue
        expected = getattr(config.deployments, DEPLOYMENT_KEYS[dep["name"]]).serve_options()
        actual = {k: v for k, v in dep.items() if k not in ("name", "user_config")}
        assert actual == expected, dep["name"]


def test_experiment_values_become_the_ingress_user_config():
    [app] = serve_config(_rayservice("canary-experiment-values.yaml"))["applications"]
    values = yaml.safe_load((CHART / "ci" / "canary-experiment-values.yaml").read_text())
    ingress = next(d for d in app["deployments"] if d["name"] == "Ingress")
    assert ingress["user_config"] == {"experiment": values["experiment"]}
    assert all("user_config" not in d for d in app["deployments"] if d["name"] != "Ingress")


def test_gpu_scenario_places_the_intent_model_on_gpu_workers():
    rs = _rayservice("gpu-intent-values.yaml")
    [app] = serve_config(rs)["applications"]
    intent = next(d for d in app["deployments"] if d["name"] == "IntentModel")
    gpus_per_replica = intent["ray_actor_options"]["num_gpus"]
    assert gpus_per_replica >= 1 and app["args"]["intent"]["backend"] == "vllm"
    groups = {g["groupName"]: g for g in rs["spec"]["rayClusterConfig"]["workerGroupSpecs"]}
    gpu = groups["gpu"]
    container = gpu["template"]["spec"]["containers"][0]
    limit = int(container["resources"]["limits"]["nvidia.com/gpu"])
    assert limit == int(gpu["rayStartParams"]["num-gpus"]) >= gpus_per_replica
    # Enough GPU pods for the intent model's replica ceiling.
    assert gpu["maxReplicas"] * (limit // gpus_per_replica) >= intent["autoscaling_config"]["max_replicas"]
    spec = gpu["template"]["spec"]
    assert spec["nodeSelector"] and spec["affinity"]
    assert any(t["key"] == "nvidia.com/gpu" for t in spec["tolerations"])
    assert "nvidia.com/gpu" not in str(groups["cpu"])


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_ray_pods_are_hardened_and_probed(scenario):
    rs = _rayservice(scenario)
    rc = rs["spec"]["rayClusterConfig"]
    assert rc["enableInTreeAutoscaling"] is True
    for g in rc["workerGroupSpecs"]:
        assert 0 <= g["minReplicas"] <= g["replicas"] <= g["maxReplicas"]
    assert rc["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    for group, template in rayservice_pod_templates(rs):
        spec = template["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] != 0
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"], group
            assert sc["readOnlyRootFilesystem"] is True, group
            assert c["readinessProbe"] and c["livenessProbe"], group
            assert c["resources"]["requests"] and c["resources"]["limits"], group
            assert not c["image"].endswith(":latest")
            # Every writable path is a volume of the pod.
            volumes = {v["name"] for v in spec["volumes"]}
            assert {m["name"] for m in c["volumeMounts"]} <= volumes
            assert {"/tmp", "/dev/shm"} <= {m["mountPath"] for m in c["volumeMounts"]}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_selectors_match_pod_labels(scenario):
    objs = render_scenario(scenario)
    rs = one(objs, "RayService")
    pods = {f"ray-{g}": t["metadata"]["labels"] for g, t in rayservice_pod_templates(rs)}
    for dep in [*by_kind(objs, "Deployment"), *by_kind(objs, "StatefulSet")]:
        tmpl_labels = dep["spec"]["template"]["metadata"]["labels"]
        assert labels_match(dep["spec"]["selector"], tmpl_labels), dep["metadata"]["name"]
        pods[dep["metadata"]["name"]] = tmpl_labels
    for svc in by_kind(objs, "Service"):
        sel = {"matchLabels": svc["spec"]["selector"]}
        assert any(labels_match(sel, l) for l in pods.values()), f"Service {svc['metadata']['name']} selects no pod"
    for kind in ("PodDisruptionBudget", "NetworkPolicy", "PodMonitor"):
        for obj in by_kind(objs, kind):
            sel = obj["spec"]["selector" if kind != "NetworkPolicy" else "podSelector"]
            assert any(labels_match(sel, l) for l in pods.values()), f"{kind} {obj['metadata']['name']} selects no pod"
    for sm in by_kind(objs, "ServiceMonitor"):
        assert any(labels_match(sm["spec"]["selector"], s["metadata"]["labels"]) for s in by_kind(objs, "Service"))
    pdbs = by_kind(objs, "PodDisruptionBudget")
    for pdb in pdbs:  # protects the Ray workers, never the single head
        assert not labels_match(pdb["spec"]["selector"], pods["ray-head"])
        assert labels_match(pdb["spec"]["selector"], pods["ray-cpu"])


def _container_ports(objs) -> dict[str, dict[str, int]]:
    """component label -> {port name: number} over every pod the release runs."""
    out: dict[str, dict[str, int]] = {}
    rs = one(objs, "RayService")
    templates = [t for _, t in rayservice_pod_templates(rs)]
    templates += [d["spec"]["template"] for d in [*by_kind(objs, "Deployment"), *by_kind(objs, "StatefulSet")]]
    for t in templates:
        comp = t["metadata"]["labels"]["app.kubernetes.io/component"]
        for c in t["spec"]["containers"]:
            for p in c.get("ports", []):
                out.setdefault(comp, {})[p["name"]] = p["containerPort"]
    return out


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_policy_and_service_ports_match_container_ports(scenario):
    objs = render_scenario(scenario)
    ports = _container_ports(objs)
    rs = one(objs, "RayService")
    serve_port = serve_config(rs)["http_options"]["port"]
    assert ports["ray-worker"]["serve"] == ports["ray-head"]["serve"] == serve_port
    for svc in by_kind(objs, "Service"):
        comp = svc["spec"]["selector"]["app.kubernetes.io/component"]
        for p in svc["spec"]["ports"]:
            assert p["targetPort"] in ports[comp], f"{svc['metadata']['name']}: {p['targetPort']} not a port of {comp}"
    for np in by_kind(objs, "NetworkPolicy"):
        for rule in np["spec"].get("ingress", []):
            for p in rule.get("ports", []):
                targets = [c for c, named in ports.items() if labels_match(np["spec"]["podSelector"],
                           {"app.kubernetes.io/component": c, "app.kubernetes.io/name": "segue",
                            "app.kubernetes.io/instance": "segue-ci"})]
                known = {n for c in targets for n in ports[c].values()} | {52365}  # Ray dashboard agent
                assert p["port"] in known, f"NetworkPolicy {np['metadata']['name']} opens {p['port']}, not a port of {targets}"
    if by_kind(objs, "NetworkPolicy"):
        ray_np = one(objs, "NetworkPolicy", "-ray")
        assert any(p["port"] == serve_port for r in ray_np["spec"]["ingress"] for p in r.get("ports", [])), \
            "the API port must be open"
    for ing in by_kind(objs, "Ingress"):
        backend = ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
        assert backend == {"name": rs["metadata"]["name"] + "-serve-svc", "port": {"number": serve_port}}
    for route in by_kind(objs, "HTTPRoute"):
        assert route["spec"]["rules"][0]["backendRefs"] == [{"name": rs["metadata"]["name"] + "-serve-svc",
                                                             "port": serve_port}]


# ---------------------------------------------------------------- rollout controller RBAC

# The contract in the helpers' notes: exactly these verbs.
ROLLOUT_RULES = {
    ("ray.io", "rayservices"): {"get", "list", "watch", "patch"},
    ("", "configmaps"): {"get", "create", "patch", "update"},
    ("", "events"): {"create", "patch"},
    ("events.k8s.io", "events"): {"create", "patch"},
}
# kubernetes-client method -> (group, resource, verb) it needs. Custom-object calls are the
# RayService (the only custom resource the controller touches).
CLIENT_VERBS = {
    "get_namespaced_custom_object": [("ray.io", "rayservices", "get")],
    "list_namespaced_custom_object": [("ray.io", "rayservices", "list")],
    "patch_namespaced_custom_object": [("ray.io", "rayservices", "patch")],
    "replace_namespaced_custom_object": [("ray.io", "rayservices", "update")],
    "read_namespaced_config_map": [("", "configmaps", "get")],
    "create_namespaced_config_map": [("", "configmaps", "create")],
    "patch_namespaced_config_map": [("", "configmaps", "patch")],
    "replace_namespaced_config_map": [("", "configmaps", "update")],
    "delete_namespaced_config_map": [("", "configmaps", "delete")],
    "list_namespaced_config_map": [("", "configmaps", "list")],
    # CoreV1Api and EventsV1Api share these names: demand both API groups.
    "create_namespaced_event": [("", "events", "create"), ("events.k8s.io", "events", "create")],
    "patch_namespaced_event": [("", "events", "patch"), ("events.k8s.io", "events", "patch")],
    "replace_namespaced_event": [("", "events", "update")],
    "list_namespaced_event": [("", "events", "list")],
}


def _role_rules(objs) -> dict[tuple[str, str], set[str]]:
    role = one(objs, "Role", "-rollout")
    rules: dict[tuple[str, str], set[str]] = {}
    for r in role["rules"]:
        for g in r["apiGroups"]:
            for res in r["resources"]:
                rules.setdefault((g, res), set()).update(r["verbs"])
    return rules


def test_rollout_role_is_exactly_the_contract():
    objs = render_scenario("canary-experiment-values.yaml")
    assert _role_rules(objs) == ROLLOUT_RULES
    role = one(objs, "Role", "-rollout")
    binding = one(objs, "RoleBinding", "-rollout")
    dep = one(objs, "Deployment", "-rollout")
    sa = dep["spec"]["template"]["spec"]["serviceAccountName"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa, "namespace": "segue-test"}]
    assert one(objs, "ServiceAccount", "-rollout")["metadata"]["name"] == sa
    assert not by_kind(objs, "ClusterRole") and not by_kind(objs, "ClusterRoleBinding")
    cmd = dep["spec"]["template"]["spec"]["containers"][0]["command"]
    rs_name = one(objs, "RayService")["metadata"]["name"]
    assert cmd[:2] == ["segue", "rollout"]
    assert cmd[cmd.index("--namespace") + 1] == "segue-test" and cmd[cmd.index("--rayservice") + 1] == rs_name


def _client_calls(package: Path) -> set[str]:
    calls = set()
    for py in package.rglob("*.py"):
        for node in ast.walk(ast.parse(py.read_text(), filename=str(py))):
            if isinstance(node, ast.Attribute) and node.attr in CLIENT_VERBS:
                calls.add(node.attr)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "stream":
                calls.add("watch")  # watch.Watch().stream(list_...): list + watch
    return calls


def test_rollout_role_covers_every_verb_the_controller_uses():
    package = ROOT / "serving" / "rollout"
    if not package.is_dir():
        pytest.skip("serving/rollout (the rollout controller) is not in this tree yet")
    calls = _client_calls(package)
    assert calls, "found no kubernetes client calls in serving/rollout: update CLIENT_VERBS for its API"
    needed = {need for c in calls if c != "watch" for need in CLIENT_VERBS[c]}
    if "watch" in calls:
        needed.add(("ray.io", "rayservices", "watch"))
    rules = _role_rules(render_scenario("canary-experiment-values.yaml"))
    missing = sorted(n for n in needed if n[2] not in rules.get((n[0], n[1]), set()))
    assert not missing, f"the controller calls APIs its Role does not allow: {missing}"


def test_rbac_scanner_catches_a_verb_the_role_lacks(tmp_path):
    # The coverage test above is only as good as its scanner: prove it sees a missing verb.
    (tmp_path / "controller.py").write_text(
        "def step(api, w):\n"
        "    api.replace_namespaced_custom_object('ray.io', 'v1', 'ns', 'rayservices', 'x', {})\n"
        "    for ev in w.stream(api.list_namespaced_custom_object, 'ray.io', 'v1', 'ns', 'rayservices'):\n"
        "        api.create_namespaced_event('ns', {})\n")
    calls = _client_calls(tmp_path)
    assert calls == {"replace_namespaced_custom_object", "list_namespaced_custom_object",
                     "create_namespaced_event", "watch"}
    needed = {n for c in calls if c != "watch" for n in CLIENT_VERBS[c]}
    assert ("ray.io", "rayservices", "update") in needed
    assert "update" not in ROLLOUT_RULES[("ray.io", "rayservices")]


def test_tracing_exporter_import_path_resolves():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    module, _, attr = values["tracing"]["exporterImportPath"].partition(":")
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} (the span-processor factory) is not in this tree yet")
    factory = getattr(importlib.import_module(module), attr)
    assert callable(factory)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_ray_pod_runs_the_edge_guard_with_the_chart_settings(scenario):
    """The proxy-process guard is on in every Ray container, its settings parse as the app's
    EdgeSettings, and Serve's own timeouts in serveConfigV2 are the same numbers."""
    from serving.edge.config import EdgeSettings
    from serving.edge.env import CALLBACK, ENV_CALLBACK, ENV_FORWARDED, ENV_SETTINGS

    rs = _rayservice(scenario)
    for _, pod in rayservice_pod_templates(rs):
        for c in pod["spec"]["containers"]:
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            assert env[ENV_CALLBACK] == CALLBACK and env[ENV_FORWARDED] == "", c["name"]
            settings = EdgeSettings.model_validate_json(env[ENV_SETTINGS])
    module, _, attr = CALLBACK.partition(":")
    assert callable(getattr(importlib.import_module(module), attr))
    http = serve_config(rs)["http_options"]
    assert http["request_timeout_s"] == settings.timeouts.request_s
    assert http["keep_alive_timeout_s"] == settings.timeouts.keep_alive_s
    app = AppConfig.from_dict(serve_config(rs)["applications"][0]["args"])
    assert settings.max_body_bytes == app.security.max_body_bytes
    # The proxy's shedding bound is the one the app itself derives (admission + Ingress slots).
    assert settings.shedding == app.edge_settings().shedding
