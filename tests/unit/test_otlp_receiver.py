"""The local OTLP receiver decodes what the real OTLP/HTTP exporter sends, and prints trees."""

import socket

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from serving.tools.otlp_receiver import OtlpReceiver, format_tree, group_traces, load_jsonl

pytestmark = pytest.mark.unit


def free_port(lo=4310, hi=4330):
    for port in range(lo, hi + 1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    pytest.skip(f"no free port in {lo}-{hi}")


def test_receiver_decodes_real_otlp_exports(tmp_path):
    jsonl = tmp_path / "spans.jsonl"
    with OtlpReceiver(port=free_port(), jsonl=str(jsonl)) as rx:
        provider = TracerProvider(resource=Resource.create({"service.name": "segue-test"}))
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{rx.endpoint}/v1/traces")))
        tracer = provider.get_tracer("t")
        with tracer.start_as_current_span("segue.ingress") as root:
            root.set_attribute("segue.arm", "canary")
            with tracer.start_as_current_span("segue.intent") as s:
                s.set_attribute("segue.version.intent_backend", "fallback")
            with tracer.start_as_current_span("segue.retrieval") as s:
                s.set_attribute("segue.candidates", 200)
                s.set_status(Status(StatusCode.ERROR, "index loading"))
        provider.shutdown()
        spans = rx.wait_for(lambda got: len(got) == 3, timeout_s=10)

    (trace_id, trace), = group_traces(spans).items()
    names = {s.name: s for s in trace}
    assert names["segue.intent"].parent_id == names["segue.ingress"].span_id
    assert names["segue.ingress"].parent_id is None
    assert names["segue.ingress"].service == "segue-test"
    assert names["segue.retrieval"].attributes["segue.candidates"] == 200
    assert names["segue.retrieval"].status == "ERROR"
    tree = format_tree(trace, versions=True)
    lines = tree.splitlines()
    assert lines[0].startswith(f"trace {trace_id} (3 spans")
    assert lines[1].startswith("└─ segue.ingress") and "arm=canary" in lines[1]
    assert lines[2].startswith("   ├─ segue.intent") and "intent_backend=fallback" in lines[2]
    assert lines[3].startswith("   └─ segue.retrieval") and "[ERROR: index loading]" in lines[3]
    assert format_tree(load_jsonl(str(jsonl)), versions=True) == tree


def test_receiver_rejects_garbage():
    import httpx

    with OtlpReceiver(port=free_port()) as rx:
        r = httpx.post(f"{rx.endpoint}/v1/traces", content=b"\xff\x00nonsense",
                       headers={"content-type": "application/x-protobuf"})
        assert r.status_code == 400
        assert httpx.post(f"{rx.endpoint}/v1/metrics", content=b"").status_code == 404


@pytest.mark.parametrize("compression", ["gzip", "deflate"])
def test_receiver_reads_compressed_exports_from_the_real_exporter(compression):
    from opentelemetry.exporter.otlp.proto.http import Compression

    with OtlpReceiver(port=free_port()) as rx:
        provider = TracerProvider(resource=Resource.create({"service.name": "segue-test"}))
        exporter = OTLPSpanExporter(endpoint=f"{rx.endpoint}/v1/traces", compression=Compression(compression))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        with provider.get_tracer("t").start_as_current_span("segue.ingress"):
            pass
        provider.shutdown()
        spans = rx.wait_for(lambda got: len(got) == 1, timeout_s=10)
    assert spans[0].name == "segue.ingress" and spans[0].service == "segue-test"


def test_receiver_names_bad_and_unknown_encodings():
    import gzip
    import zlib

    import httpx
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from serving.tools.otlp_receiver import MAX_DECOMPRESSED_BYTES, decompress

    raw = ExportTraceServiceRequest().SerializeToString() + b"\x0a\x00"
    assert decompress(zlib.compress(raw), "deflate") == raw
    assert decompress(zlib.compress(raw)[2:-4], "deflate") == raw  # raw deflate, as some clients send it
    with pytest.raises(ValueError, match="expands past"):
        decompress(gzip.compress(b"\0" * (MAX_DECOMPRESSED_BYTES + 1)), "gzip")
    with OtlpReceiver(port=free_port()) as rx:
        url, proto = f"{rx.endpoint}/v1/traces", {"content-type": "application/x-protobuf"}
        r = httpx.post(url, content=b"not gzip", headers={**proto, "content-encoding": "gzip"})
        assert r.status_code == 400 and "gzip" in r.text
        r = httpx.post(url, content=raw, headers={**proto, "content-encoding": "br"})
        assert r.status_code == 415 and "gzip, deflate" in r.text
