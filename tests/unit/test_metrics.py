"""Metric declarations and the bounds on label values."""

import pytest

from serving import metrics as m

pytestmark = pytest.mark.unit


def test_label_values_are_normalised_and_bounded():
    guard = m.LabelGuard(max_values=3)
    assert guard.value("arm", "Canary") == "canary"
    assert guard.value("arm", None) == "none"
    assert guard.value("arm", "") == "none"
    # Free text (a prompt, an email) never becomes a label value.
    assert guard.value("arm", "rainy sunday jazz") == "other"
    assert guard.value("arm", "someone@example.com") == "other"
    assert guard.value("arm", "x" * 60) == "other"
    assert guard.value("arm", "b") == "b"
    assert guard.value("arm", "c") == "c"
    assert guard.value("arm", "d") == "other"  # the 4th distinct value is over the cap
    assert guard.value("arm", "canary") == "canary"  # known values keep working
    assert guard.value("event", "like") == "like"  # caps are per label


def test_every_metric_declares_its_labels_and_is_documented():
    import pathlib

    doc = (pathlib.Path(__file__).parents[2] / "docs" / "observability.md").read_text()
    names = [s.name for s in m.METRICS]
    assert len(names) == len(set(names))
    for spec in m.METRICS:
        assert spec.kind in ("counter", "histogram")
        assert (spec.kind == "histogram") == bool(spec.buckets)
        assert not {"user", "user_id", "prompt", "request_id"} & set(spec.labels)
        assert m.exported_name(spec) in doc, f"{m.exported_name(spec)} is not documented in docs/observability.md"
        for label in spec.labels:
            assert f"`{label}`" in doc, f"label {label} of {spec.name} is not documented"


class Recorder(m.MetricsBackend):
    def __init__(self):
        self.calls = []

    def inc(self, spec, tags, value=1.0):
        self.calls.append((spec.name, tags, value))

    def observe(self, spec, tags, value):
        self.calls.append((spec.name, tags, value))


def test_feedback_and_request_recording():
    rec = Recorder()
    sm = m.SegueMetrics(rec)
    sm.feedback("exp-1", "control", "like")
    sm.request("search", "control", None, 200, 0.05)
    assert rec.calls[0] == ("segue_feedback_events", {"experiment": "exp-1", "arm": "control", "event": "like"}, 1.0)
    assert rec.calls[1] == ("segue_requests",
                            {"route": "search", "arm": "control", "experiment": "none", "code": "200"}, 1.0)
    assert rec.calls[2][0] == "segue_request_duration_seconds"
    with pytest.raises(ValueError, match="needs labels"):
        rec2 = m.SegueMetrics(Recorder())
        rec2._inc(m.FEEDBACK, experiment="e", arm="a")


def test_outside_ray_metrics_go_nowhere():
    m.default_metrics.cache_clear()
    try:
        assert isinstance(m.default_metrics().backend, m.NullBackend)
        m.default_metrics().feedback("exp-1", "canary", "skip")  # must not raise without Ray
    finally:
        m.default_metrics.cache_clear()


def test_ray_accepts_every_declaration():
    from ray.util import metrics as ray_metrics

    for spec in m.METRICS:
        if spec.kind == "counter":
            ray_metrics.Counter(spec.name, description=spec.description, tag_keys=spec.labels)
        else:
            ray_metrics.Histogram(spec.name, description=spec.description, boundaries=list(spec.buckets),
                                  tag_keys=spec.labels)


class Broken(Recorder):
    def observe(self, spec, tags, value):
        raise RuntimeError("exporter down")


def test_a_failing_metric_never_fails_the_request(caplog):
    sm = m.SegueMetrics(Broken())
    sm.candidates(5, "control", None)
    sm.candidates(6, "control", None)
    assert [r.message for r in caplog.records].count(
        "recording metric segue_candidates_retrieved failed; further failures of it are not logged") == 1
