"""The chart's collector config is observability/otel-collector.yaml, and it is wired up."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.k8s.k8s_support import CHART, ROOT, one, render_with

CHART_FILE = CHART / "files" / "otel-collector.yaml"
OBS_FILE = ROOT / "observability" / "otel-collector.yaml"


def test_chart_ships_the_observability_collector_config():
    if not OBS_FILE.exists():
        pytest.skip("observability/otel-collector.yaml is not in this tree")
    assert CHART_FILE.read_text() == OBS_FILE.read_text(), \
        "helm/segue/files/otel-collector.yaml differs from observability/otel-collector.yaml: copy it over"


def test_configmap_holds_the_file():
    cm = one(render_with("otelCollector.enabled=true"), "ConfigMap", "-otel-collector")
    assert cm["data"]["config.yaml"].strip() == CHART_FILE.read_text().strip()


def _config() -> dict:
    return yaml.safe_load(CHART_FILE.read_text())


def test_every_pipeline_component_is_defined():
    cfg = _config()
    defined = {kind: set(cfg.get(kind) or {}) for kind in ("receivers", "processors", "exporters", "connectors")}
    for name, p in cfg["service"]["pipelines"].items():
        for r in p["receivers"]:
            assert r in defined["receivers"] | defined["connectors"], (name, r)
        for x in p.get("processors", []):
            assert x in defined["processors"], (name, x)
        for e in p["exporters"]:
            assert e in defined["exporters"] | defined["connectors"], (name, e)
    used = {c for p in cfg["service"]["pipelines"].values() for k in ("receivers", "processors", "exporters") for c in p.get(k, [])}
    assert not (set().union(*defined.values()) - used), "components defined but used by no pipeline"
    for ext in cfg["service"].get("extensions", []):
        assert ext in cfg["extensions"]


def test_config_keeps_errors_and_slow_traces_within_a_memory_limit():
    cfg = _config()
    traces = [p for n, p in cfg["service"]["pipelines"].items() if n.startswith("traces")]
    assert any(p.get("processors", [])[:1] == ["memory_limiter"] for p in traces), "memory_limiter must come first"
    policies = {p["type"] for p in cfg["processors"]["tail_sampling"]["policies"]}
    assert {"status_code", "latency"} <= policies
    assert "otlp" in cfg["receivers"] and "prometheus" in cfg["exporters"] and "debug" in cfg["exporters"]


def _port(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


def test_collector_ports_match_its_service_and_probes():
    objs = render_with("otelCollector.enabled=true")
    cfg = _config()
    dep = one(objs, "Deployment", "-otel-collector")
    container = dep["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    protocols = cfg["receivers"]["otlp"]["protocols"]
    assert ports["otlp-grpc"] == _port(protocols["grpc"]["endpoint"])
    assert ports["otlp-http"] == _port(protocols["http"]["endpoint"])
    assert ports["prom-metrics"] == _port(cfg["exporters"]["prometheus"]["endpoint"])
    assert ports["health"] == _port(cfg["extensions"]["health_check"]["endpoint"])
    # Every ${env:X} the config reads is set on the container (or has a :- default).
    env = {e["name"] for e in container["env"]}
    for var, default in re.findall(r"\$\{env:([A-Z0-9_]+)(:-[^}]*)?\}", CHART_FILE.read_text()):
        assert var in env or default, f"the collector config reads ${{env:{var}}} but the Deployment does not set it"
