"""The rollout controller with the real `kubernetes` client against an in-process fake
API server that enforces resourceVersion and validates RayServices against the KubeRay CRD."""

from __future__ import annotations

import json

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from serving.rollout.controller import MetricsSource, RolloutController
from serving.rollout.kube import ConfigMapStateStore, KubeEventSink, RayServiceActuator, current_experiment
from serving.rollout.policy import ArmEvidence, Evidence, RolloutPolicy
from tests.k8s.fake_apiserver import FakeApiServer

NS, RS, APP = "segue", "segue", "segue"
EXPERIMENT = {
    "id": "ranker-v2", "salt": "s1", "control": "control",
    "arms": [
        {"name": "control", "weight": 1.0, "components": {"ranker": "baseline-v1"}},
        {"name": "canary", "weight": 0.0, "components": {"ranker": "baseline-v2"}},
    ],
}


def rayservice(experiment=EXPERIMENT) -> dict:
    serve_config = {"applications": [{
        "name": APP, "route_prefix": "/", "import_path": "serving.app:app_builder",
        "args": {"ranking": {"version": "baseline-v1"}, "experiment": experiment},
        "deployments": [{"name": "Ranker", "num_replicas": 1}],
    }]}
    return {
        "apiVersion": "ray.io/v1", "kind": "RayService", "metadata": {"name": RS, "namespace": NS},
        "spec": {
            "serveConfigV2": yaml.safe_dump(serve_config),
            "rayClusterConfig": {"headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"containers": [
                {"name": "ray-head", "image": "segue:0.1.0"}]}}}},
        },
    }


@pytest.fixture()
def api():
    server = FakeApiServer()
    base = server.start()
    cfg = client.Configuration(host=base)
    api_client = client.ApiClient(cfg)
    server.put("rayservices", rayservice())
    yield server, client.CustomObjectsApi(api_client), client.CoreV1Api(api_client)
    api_client.close()
    server.stop()


class FakeMetrics(MetricsSource):
    """Scripted evidence: a subclass of the real interface."""

    def __init__(self):
        self.served = 0
        self.bad = False

    def evidence(self, experiment_id, control, canary, metric) -> Evidence:
        self.served += 400
        if self.bad:
            return Evidence(ArmEvidence(served=5000, errors=5), ArmEvidence(served=self.served, errors=self.served // 5))
        return Evidence(ArmEvidence(served=5000, p99_ms=100), ArmEvidence(served=self.served, p99_ms=110))


def weights_in(server) -> dict:
    obj = server.get("rayservices", NS, RS)
    exp = current_experiment(yaml.safe_load(obj["spec"]["serveConfigV2"]), APP)
    return {a["name"]: a["weight"] for a in exp["arms"]}


def controller(custom, core, metrics, uid=None):
    return RolloutController(
        "ranker-v2", "control", "canary",
        RayServiceActuator(custom, NS, RS, APP), metrics, ConfigMapStateStore(core, NS, "segue-rollout"),
        KubeEventSink(core, NS, RS, uid=uid), RolloutPolicy(min_served_per_step=300),
    )


def test_fake_server_rejects_a_rayservice_the_crd_rejects(api):
    server, custom, _ = api
    bad = rayservice()
    bad["spec"]["serveConfigV2"] = {"not": "a string"}  # the CRD says string
    bad["metadata"]["name"] = "bad"
    with pytest.raises(ApiException) as e:
        custom.create_namespaced_custom_object("ray.io", "v1", NS, "rayservices", bad)
    assert e.value.status == 422 and "serveConfigV2" in e.value.body


def test_stale_resource_version_is_a_409(api):
    _, custom, _ = api
    obj = custom.get_namespaced_custom_object("ray.io", "v1", NS, "rayservices", RS)
    custom.patch_namespaced_custom_object("ray.io", "v1", NS, "rayservices", RS, {"metadata": {"labels": {"a": "b"}}})
    with pytest.raises(ApiException) as e:
        custom.patch_namespaced_custom_object("ray.io", "v1", NS, "rayservices", RS,
                                              {"metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]}})
    assert e.value.status == 409


def test_full_rollout_promotes_and_records_state_and_events(api):
    server, custom, core = api
    ctl = controller(custom, core, FakeMetrics())
    actions = [ctl.reconcile().action for _ in range(6)]
    assert actions == ["start", "advance", "advance", "advance", "promote", "done"]
    assert weights_in(server) == {"control": 0.0, "canary": 1.0}
    state = json.loads(server.get("configmaps", NS, "segue-rollout")["data"]["state.json"])
    assert state["status"] == "promoted" and [d["weight"] for d in state["decisions"]] == [0.05, 0.1, 0.25, 0.5, 1.0]
    reasons = [o["reason"] for (p, _, _), o in server.objects.items() if p == "events"]
    assert reasons.count("CanaryAdvanced") == 3 and "CanaryPromoted" in reasons
    # Every applied serveConfigV2 is a valid experiment and the rest of the app is untouched.
    app = yaml.safe_load(server.get("rayservices", NS, RS)["spec"]["serveConfigV2"])["applications"][0]
    assert app["args"]["ranking"] == {"version": "baseline-v1"} and app["deployments"][0]["name"] == "Ranker"


def test_conflicts_are_retried_on_the_fresh_object(api):
    server, custom, core = api
    ctl = controller(custom, core, FakeMetrics())
    server.concurrent_writes["rayservices"] = 2  # two other writers get in first
    assert ctl.reconcile().action == "start"
    assert weights_in(server) == {"control": 0.95, "canary": 0.05}
    assert ctl.actuator.conflicts == 2
    # The concurrent writers' change survived: the patch was redone on their version.
    assert "touched" in server.get("rayservices", NS, RS)["metadata"]["annotations"]


def test_restart_resumes_from_the_configmap(api):
    server, custom, core = api
    metrics = FakeMetrics()
    first = controller(custom, core, metrics)
    first.reconcile(), first.reconcile()  # start 5%, advance to 10%
    second = controller(custom, core, metrics)  # a new process: nothing in memory
    assert second.state().weight == 0.10 and second.state().step == 1
    assert second.reconcile().action == "advance" and weights_in(server)["canary"] == 0.25


def test_guardrail_breach_rolls_back_with_a_warning_event(api):
    server, custom, core = api
    metrics = FakeMetrics()
    ctl = controller(custom, core, metrics)
    ctl.reconcile()
    metrics.bad = True
    d = ctl.reconcile()
    assert d.action == "rollback" and "error rate" in d.reason
    assert weights_in(server) == {"control": 1.0, "canary": 0.0}
    warnings = [o for (p, _, _), o in server.objects.items() if p == "events" and o["type"] == "Warning"]
    assert warnings and warnings[0]["reason"] == "CanaryRolledBack"
    assert warnings[0]["involvedObject"]["kind"] == "RayService"


def test_repeated_holds_update_one_event(api):
    server, custom, core = api

    class Thin(FakeMetrics):
        def evidence(self, *a):
            return Evidence(ArmEvidence(served=100), ArmEvidence(served=10))

    ctl = controller(custom, core, Thin())
    for _ in range(4):
        ctl.reconcile()
    holds = [o for (p, _, _), o in server.objects.items() if p == "events" and o["reason"] == "CanaryHeld"]
    assert len(holds) == 1 and holds[0]["count"] == 3


def test_only_the_granted_verbs_are_used(api):
    server, custom, core = api
    ctl = controller(custom, core, FakeMetrics())
    for _ in range(3):
        ctl.reconcile()
    used = {(m, "rayservices" if "rayservices" in p else "configmaps" if "configmaps" in p else "events")
            for m, p in server.requests}
    granted = {("GET", "rayservices"), ("PATCH", "rayservices"), ("GET", "configmaps"), ("POST", "configmaps"),
               ("PATCH", "configmaps"), ("POST", "events"), ("PATCH", "events")}
    assert used <= granted, used - granted


def test_cli_once_discovers_the_experiment_from_the_rayservice(api, monkeypatch, capsys):
    server, custom, core = api
    import serving.rollout.kube as kube
    from serving.cli import main
    from serving.rollout import controller as ctl_mod

    monkeypatch.setattr(kube, "kube_clients", lambda *a: (custom, core))

    class Empty(MetricsSource):
        def __init__(self, url):
            pass

        def evidence(self, *a):
            return Evidence(ArmEvidence(), ArmEvidence())

    monkeypatch.setattr(ctl_mod, "ServiceMetricsSource", Empty)
    rc = main(["rollout", "--namespace", NS, "--rayservice", RS, "--metrics-url", "http://x", "--once"])
    assert rc == 0 and json.loads(capsys.readouterr().out)["action"] == "start"
    assert weights_in(server) == {"control": 0.95, "canary": 0.05}
