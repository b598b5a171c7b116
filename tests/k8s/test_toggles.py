"""One test per toggle: each renders its objects (and wiring) only when switched on."""

from __future__ import annotations

import pytest

from tests.k8s.k8s_support import by_kind, one, rayservice_pod_templates, render_with


def _env(objs) -> dict[str, dict]:
    rs = one(objs, "RayService")
    envs = {}
    for group, t in rayservice_pod_templates(rs):
        envs[group] = {e["name"]: e for e in t["spec"]["containers"][0]["env"]}
    return envs


def test_otel_on_wires_every_ray_pod_to_the_collector():
    # (--set turns 0.25 into a string, which the schema refuses: floats go in files or --set-json.)
    objs = render_with("tracing.enabled=true", "otelCollector.enabled=true", "tracing.samplingRatio=1")
    svc = one(objs, "Service", "-otel-collector")
    assert one(objs, "Deployment", "-otel-collector") and one(objs, "ConfigMap", "-otel-collector")
    for group, env in _env(objs).items():
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == f"http://{svc['metadata']['name']}:4318", group
        assert env["RAY_SERVE_TRACING_EXPORTER_IMPORT_PATH"]["value"] == "serving.telemetry:span_processors"
        assert env["RAY_SERVE_TRACING_SAMPLING_RATIO"]["value"] == "1"
    assert 4318 in {p["port"] for p in svc["spec"]["ports"]}


def test_otel_off_renders_no_collector_and_no_tracing_env():
    objs = render_with("tracing.enabled=false", "otelCollector.enabled=false")
    assert not [o for o in objs if "otel-collector" in o["metadata"]["name"]]
    for env in _env(objs).values():
        assert not {"OTEL_EXPORTER_OTLP_ENDPOINT", "RAY_SERVE_TRACING_EXPORTER_IMPORT_PATH"} & set(env)


def test_tracing_to_an_external_collector():
    objs = render_with("tracing.enabled=true", "otelCollector.enabled=false",
                       "tracing.otlpEndpoint=http://otel.observability:4318")
    assert not [o for o in objs if "otel-collector" in o["metadata"]["name"]]
    for env in _env(objs).values():
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://otel.observability:4318"


def test_collector_without_tracing_runs_but_ray_does_not_export():
    objs = render_with("tracing.enabled=false", "otelCollector.enabled=true")
    assert one(objs, "Deployment", "-otel-collector")
    for env in _env(objs).values():
        assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in env


def test_admin_token_from_an_existing_secret_creates_none():
    objs = render_with("adminToken.existingSecret=my-admin", "adminToken.existingSecretKey=tok")
    assert not by_kind(objs, "Secret")
    for env in _env(objs).values():
        assert env["SEGUE_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "my-admin", "key": "tok"}


def test_admin_token_value_creates_a_secret():
    objs = render_with("adminToken.existingSecret=", "adminToken.value=s3cret")
    secret = one(objs, "Secret", "-admin")
    import base64
    assert base64.b64decode(secret["data"]["token"]).decode() == "s3cret"
    for env in _env(objs).values():
        assert env["SEGUE_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": secret["metadata"]["name"], "key": "token"}


@pytest.mark.parametrize("on", [True, False])
def test_monitors(on):
    objs = render_with(f"monitoring.podMonitor={str(on).lower()}", f"monitoring.serviceMonitor={str(on).lower()}",
                       "otelCollector.enabled=true", "monitoring.labels.release=prom")
    assert len(by_kind(objs, "PodMonitor")) == len(by_kind(objs, "ServiceMonitor")) == int(on)
    if on:
        assert one(objs, "PodMonitor")["metadata"]["labels"]["release"] == "prom"
        assert one(objs, "PodMonitor")["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"


@pytest.mark.parametrize("on", [True, False])
def test_network_policy(on):
    objs = render_with(f"networkPolicy.enabled={str(on).lower()}")
    nps = by_kind(objs, "NetworkPolicy")
    if not on:
        assert not nps
        return
    deny = one(objs, "NetworkPolicy", "-default-deny")
    assert deny["spec"]["policyTypes"] == ["Ingress"] and "ingress" not in deny["spec"]


@pytest.mark.parametrize("on", [True, False])
def test_pod_disruption_budget(on):
    objs = render_with(f"podDisruptionBudget.enabled={str(on).lower()}")
    assert len(by_kind(objs, "PodDisruptionBudget")) == int(on)


@pytest.mark.parametrize("on", [True, False])
def test_rollout_controller(on):
    objs = render_with(f"rollout.enabled={str(on).lower()}")
    kinds = {o["kind"] for o in objs if o["metadata"]["name"].endswith("-rollout")}
    assert kinds == ({"Deployment", "Role", "RoleBinding", "ServiceAccount"} if on else set())


@pytest.mark.parametrize("on", [True, False])
def test_gpu_worker_group(on):
    objs = render_with(f"ray.gpuWorkers.enabled={str(on).lower()}")
    groups = [g["groupName"] for g in one(objs, "RayService")["spec"]["rayClusterConfig"]["workerGroupSpecs"]]
    assert groups == (["cpu", "gpu"] if on else ["cpu"])


def test_ingress_and_http_route():
    assert not by_kind(render_with(), "Ingress") and not by_kind(render_with(), "HTTPRoute")
    objs = render_with("ingress.enabled=true", "ingress.host=segue.example.com", "ingress.tlsSecretName=tls",
                       "httpRoute.enabled=true", "httpRoute.parentRefs[0].name=gw")
    ing = one(objs, "Ingress")
    assert ing["spec"]["rules"][0]["host"] == "segue.example.com" and ing["spec"]["tls"][0]["secretName"] == "tls"
    assert one(objs, "HTTPRoute")["spec"]["parentRefs"] == [{"name": "gw"}]


def test_autoscaler_toggle():
    rc = one(render_with("ray.autoscaler.enabled=false"), "RayService")["spec"]["rayClusterConfig"]
    assert rc["enableInTreeAutoscaling"] is False and "autoscalerOptions" not in rc


def test_experiment_absent_means_no_user_config():
    import yaml
    rs = one(render_with(), "RayService")
    app = yaml.safe_load(rs["spec"]["serveConfigV2"])["applications"][0]
    assert all("user_config" not in d for d in app["deployments"])


def test_read_only_root_filesystem_toggle():
    rs = one(render_with("ray.readOnlyRootFilesystem=false"), "RayService")
    for _, t in rayservice_pod_templates(rs):
        assert t["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is False


def test_helm_test_hook_targets_the_serve_service():
    objs = render_with()
    pod = one(objs, "Pod", "-test-first-prompt")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
    rs = one(objs, "RayService")
    assert env["SEGUE_URL"] == f"http://{rs['metadata']['name']}-serve-svc.segue-test.svc:8000"


def test_store_defaults_to_sqlite_and_no_database_objects():
    objs = render_with()
    assert not [o for o in objs if "postgresql" in o["metadata"]["name"]]
    for env in _env(objs).values():
        assert "SEGUE_DB_PASSWORD" not in env


def test_store_password_from_an_existing_secret():
    objs = render_with("app.store.backend=postgres", "app.store.postgres.url=postgresql://segue@db.example:5432/segue",
                       "database.existingSecret=segue-db")
    assert not [o for o in objs if "postgresql" in o["metadata"]["name"]]
    for env in _env(objs).values():
        assert env["SEGUE_DB_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "segue-db", "key": "password"}


def test_demo_postgresql_statefulset_is_wired_to_the_store():
    import base64

    from serving.config import AppConfig
    from tests.k8s.k8s_support import serve_config

    objs = render_with("postgresql.enabled=true", "networkPolicy.enabled=true")
    sts = one(objs, "StatefulSet", "-postgresql")
    svc = one(objs, "Service", "-postgresql")
    secret = one(objs, "Secret", "-postgresql")
    assert len(base64.b64decode(secret["data"]["password"])) == 32
    pod = sts["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "postgres:16.4"
    pw = next(e for e in pod["containers"][0]["env"] if e["name"] == "POSTGRES_PASSWORD")
    assert pw["valueFrom"]["secretKeyRef"] == {"name": secret["metadata"]["name"], "key": "password"}
    for env in _env(objs).values():  # the Ray pods get the same password
        assert env["SEGUE_DB_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": secret["metadata"]["name"], "key": "password"}
    [app] = serve_config(one(objs, "RayService"))["applications"]
    store = AppConfig.from_dict(app["args"]).store
    assert store.backend == "postgres" and f"@{svc['metadata']['name']}:5432/" in store.postgres.url
    assert one(objs, "NetworkPolicy", "-postgresql")["spec"]["ingress"][0]["ports"] == [{"port": 5432, "protocol": "TCP"}]


def _app_args(objs) -> dict:
    import yaml

    return yaml.safe_load(one(objs, "RayService")["spec"]["serveConfigV2"])["applications"][0]["args"]


def test_trace_ui_url_reaches_the_console_config_only_when_set():
    from serving.config import AppConfig

    url = "https://jaeger.example/trace/{trace_id}"
    args = _app_args(render_with(f"tracing.traceUiUrl={url}"))
    assert args["telemetry"] == {"trace_ui_url": url}
    assert AppConfig.from_dict(args).telemetry.trace_ui_url == url
    assert "telemetry" not in _app_args(render_with())
