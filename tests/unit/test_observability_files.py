"""The collector config, alert rules and dashboards are well formed and agree with the code.

The alert rules are checked by the real `promtool` (from the Debian `prometheus`
package, installed by scripts/test); the dashboards' queries are checked against a
live scrape in tests/e2e/test_observability.py.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from serving import metrics

OBS = Path(__file__).resolve().parents[2] / "observability"


@pytest.fixture(scope="module")
def collector():
    return yaml.safe_load((OBS / "otel-collector.yaml").read_text())


def _defined(cfg, kind):
    return set((cfg.get(kind) or {}).keys())


def test_collector_pipelines_use_only_defined_components(collector):
    pipelines = collector["service"]["pipelines"]
    connectors = _defined(collector, "connectors")
    for name, p in pipelines.items():
        for r in p["receivers"]:
            assert r in _defined(collector, "receivers") | connectors, f"{name}: receiver {r} is not defined"
        for x in p.get("processors", []):
            assert x in _defined(collector, "processors"), f"{name}: processor {x} is not defined"
        for e in p["exporters"]:
            assert e in _defined(collector, "exporters") | connectors, f"{name}: exporter {e} is not defined"
        # memory_limiter must see data first; batch goes last (the collector's documented order).
        procs = p.get("processors", [])
        assert procs[0] == "memory_limiter" and procs[-1] == "batch", f"{name}: {procs}"
    for ext in collector["service"].get("extensions", []):
        assert ext in _defined(collector, "extensions")
    # Every connector is both exported to and received from.
    for c in connectors:
        assert any(c in p["exporters"] for p in pipelines.values())
        assert any(c in p["receivers"] for p in pipelines.values())


def test_collector_keeps_errors_and_slow_traces_and_exports_everywhere(collector):
    traces = collector["service"]["pipelines"]["traces"]
    assert "tail_sampling" in traces["processors"]
    exporters = {e.split("/")[0] for p in collector["service"]["pipelines"].values() for e in p["exporters"]}
    assert {"otlp", "prometheus", "debug"} <= exporters
    policies = {p["type"]: p for p in collector["processors"]["tail_sampling"]["policies"]}
    assert policies["status_code"]["status_code"]["status_codes"] == ["ERROR"]
    # The slow-trace threshold is the latency SLO's (1 s, the le="1000.0" bucket in alerts.yaml).
    assert policies["latency"]["latency"]["threshold_ms"] == 1000
    assert 'le="1000.0"' in (OBS / "alerts.yaml").read_text()
    assert collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")


def _promtool():
    exe = shutil.which("promtool")
    if exe is None:
        pytest.skip("promtool is not installed: scripts/test installs the Debian package `prometheus`")
    return exe


def test_alert_rules_pass_promtool_check():
    r = subprocess.run([_promtool(), "check", "rules", str(OBS / "alerts.yaml")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


def test_alert_rules_unit_tests_pass():
    r = subprocess.run([_promtool(), "test", "rules", str(OBS / "alerts_test.yaml")], capture_output=True,
                       text=True, cwd=OBS)
    assert r.returncode == 0, r.stdout + r.stderr


def _series(spec) -> set[str]:
    """What Prometheus holds for one declared metric (Ray's naming; histograms in three parts)."""
    base = f"ray_{spec.name}"
    return {metrics.exported_name(spec)} if spec.kind == "counter" else {f"{base}_bucket", f"{base}_sum", f"{base}_count"}


def _used_in_rules_and_panels() -> set[str]:
    rules = [(OBS / "alerts.yaml").read_text()]
    dashboards = [json.loads(p.read_text()) for p in (OBS / "dashboards").glob("*.json")]
    exprs = [t["expr"] for d in dashboards for p in d["panels"] for t in p.get("targets", [])]
    return {n for t in rules + exprs for n in re.findall(r"\b(ray_segue_[a-z0-9_]+)", t)}


def test_alerts_and_dashboards_name_real_segue_metrics():
    """Segue metric names in rules and dashboards exist in serving/metrics.py (with Ray's naming)."""
    declared = set().union(*(_series(s) for s in metrics.METRICS))
    used = _used_in_rules_and_panels()
    assert used and used <= declared, used - declared


def test_every_declared_metric_is_used_by_a_panel_or_an_alert():
    """A series nobody looks at is noise: each one in METRICS is queried by a dashboard panel or an
    alert rule (add the panel with the metric)."""
    used = _used_in_rules_and_panels()
    unused = sorted(s.name for s in metrics.METRICS if not _series(s) & used)
    assert not unused, f"declared in serving/metrics.py but in no dashboard panel or alert: {unused}"


def test_dashboards_cover_the_on_call_questions():
    dashboards = [json.loads(p.read_text()) for p in sorted((OBS / "dashboards").glob("*.json"))]
    assert len({d["uid"] for d in dashboards}) == len(dashboards)
    exprs = " ".join(t["expr"] for d in dashboards for p in d["panels"] for t in p.get("targets", []))
    for needed in ("ray_segue_stage_duration_seconds_bucket", "ray_segue_intent_fallbacks_total",
                   "ray_serve_autoscaling_target_replicas", "ray_serve_deployment_replica_healthy",
                   "ray_segue_feedback_events_total", "ray_segue_requests_total"):
        assert needed in exprs, f"no dashboard panel queries {needed}"
    assert re.search(r"sum by \(le, stage, arm\)", exprs), "latency by stage and arm"
    for d in dashboards:
        ids = [p["id"] for p in d["panels"]]
        assert len(ids) == len(set(ids)), f"{d['uid']}: duplicate panel ids"
