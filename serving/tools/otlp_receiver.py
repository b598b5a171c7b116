"""A small OTLP/HTTP trace receiver and a trace-tree printer, for local runs and tests.

Production sends spans to an OpenTelemetry Collector (observability/otel-collector.yaml).
On a laptop without one, this receiver stands in for it: it accepts
`POST /v1/traces` (protobuf or JSON ExportTraceServiceRequest; identity, gzip or deflate
bodies), keeps the spans,
optionally appends them to a JSONL file, and prints each trace as a tree.

    python -m serving.tools.otlp_receiver --port 4318            # print trees as traces complete
    python -m serving.tools.otlp_receiver --from spans.jsonl     # print trees from a saved file
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import zlib
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}


@dataclass
class SpanRecord:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    service: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)
    status: str = "UNSET"
    status_message: str = ""
    events: list[str] = field(default_factory=list)

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


def _value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, kind) if kind else None


# Bodies larger than this once decompressed are refused (a compressed body can expand ~1000x).
MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024


class UnsupportedEncoding(ValueError):
    pass


def decompress(body: bytes, encoding: str | None) -> bytes:
    """Undo Content-Encoding: OTLP exporters send gzip by default (the Collector's otlphttp,
    rotel) or deflate; the spec allows both besides identity."""
    enc = (encoding or "identity").strip().lower()
    if enc in ("", "identity"):
        return body
    if enc == "gzip":
        d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    elif enc == "deflate":
        # HTTP's "deflate" is zlib-wrapped; some clients send raw deflate: accept both.
        d = zlib.decompressobj(wbits=zlib.MAX_WBITS if body[:1] == b"\x78" else -zlib.MAX_WBITS)
    else:
        raise UnsupportedEncoding(f"Content-Encoding '{encoding}' is not supported; send gzip, deflate or identity")
    out = d.decompress(body, MAX_DECOMPRESSED_BYTES)
    if d.unconsumed_tail:
        raise ValueError(f"body expands past {MAX_DECOMPRESSED_BYTES} bytes")
    return out


def decode(body: bytes, content_type: str = "application/x-protobuf") -> list[SpanRecord]:
    """Spans of one OTLP ExportTraceServiceRequest."""
    req = ExportTraceServiceRequest()
    if "json" in content_type:
        json_format.Parse(body, req)
    else:
        req.ParseFromString(body)
    out = []
    for rs in req.resource_spans:
        res = {kv.key: _value(kv.value) for kv in rs.resource.attributes}
        for ss in rs.scope_spans:
            for s in ss.spans:
                out.append(SpanRecord(
                    trace_id=s.trace_id.hex(), span_id=s.span_id.hex(), parent_id=s.parent_span_id.hex() or None,
                    name=s.name, service=str(res.get("service.name", "")), start_ns=s.start_time_unix_nano,
                    end_ns=s.end_time_unix_nano, attributes={kv.key: _value(kv.value) for kv in s.attributes},
                    status=_STATUS.get(s.status.code, str(s.status.code)), status_message=s.status.message,
                    events=[e.name for e in s.events],
                ))
    return out


class OtlpReceiver:
    """Collects spans sent over OTLP/HTTP. Use as a context manager or start()/stop()."""

    def __init__(self, host: str = "127.0.0.1", port: int = 4318, jsonl: str | None = None,
                 on_spans: Callable[[list[SpanRecord]], None] | None = None):
        self._spans: list[SpanRecord] = []
        self.encodings: dict[str, int] = defaultdict(int)  # Content-Encoding -> exports received
        self._lock = threading.Lock()
        self._jsonl = open(jsonl, "a") if jsonl else None
        self._on_spans = on_spans
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server API)
                if self.path.rstrip("/") != "/v1/traces":
                    self.send_error(404, "only /v1/traces is served")
                    return
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                ctype = self.headers.get("content-type", "application/x-protobuf")
                try:
                    body = decompress(body, self.headers.get("content-encoding"))
                except UnsupportedEncoding as e:
                    self.send_error(415, str(e))
                    return
                except (zlib.error, ValueError, EOFError) as e:
                    self.send_error(400, f"body is not valid {self.headers.get('content-encoding')}: {e}")
                    return
                try:
                    spans = decode(body, ctype)
                except Exception as e:  # a malformed export is the client's problem: say so
                    self.send_error(400, f"not an OTLP ExportTraceServiceRequest: {e}")
                    return
                with receiver._lock:
                    receiver.encodings[(self.headers.get("content-encoding") or "identity").lower()] += 1
                receiver._add(spans)
                payload = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                return None

        self._server = ThreadingHTTPServer((host, port), Handler)
        self.port = self._server.server_address[1]
        self.endpoint = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp-receiver", daemon=True)

    def _add(self, spans: list[SpanRecord]) -> None:
        with self._lock:
            self._spans.extend(spans)
            if self._jsonl:
                for s in spans:
                    self._jsonl.write(json.dumps(asdict(s)) + "\n")
                self._jsonl.flush()
        if self._on_spans:
            self._on_spans(spans)

    def start(self) -> "OtlpReceiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._jsonl:
            self._jsonl.close()

    def __enter__(self) -> "OtlpReceiver":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def spans(self, trace_id: str | None = None) -> list[SpanRecord]:
        with self._lock:
            return [s for s in self._spans if trace_id is None or s.trace_id == trace_id]

    def wait_for(self, predicate: Callable[[list[SpanRecord]], bool], timeout_s: float = 30.0,
                 trace_id: str | None = None) -> list[SpanRecord]:
        """Spans (of one trace, if given) once `predicate` holds; TimeoutError naming what arrived otherwise."""
        deadline = time.monotonic() + timeout_s
        while True:
            spans = self.spans(trace_id)
            if predicate(spans):
                return spans
            if time.monotonic() > deadline:
                raise TimeoutError(f"after {timeout_s:.0f}s the receiver has {len(spans)} spans: "
                                   f"{sorted({s.name for s in spans})}")
            time.sleep(0.2)


def group_traces(spans: Iterable[SpanRecord]) -> dict[str, list[SpanRecord]]:
    traces: dict[str, list[SpanRecord]] = defaultdict(list)
    for s in spans:
        traces[s.trace_id].append(s)
    return dict(traces)


def _label(s: SpanRecord, attrs: tuple[str, ...], versions: bool) -> str:
    shown = [f"{k.removeprefix('segue.')}={s.attributes[k]}" for k in attrs if k in s.attributes]
    if versions:
        shown += [f"{k.removeprefix('segue.version.')}={v}" for k, v in sorted(s.attributes.items())
                  if k.startswith("segue.version.")]
    status = f" [ERROR{': ' + s.status_message if s.status_message else ''}]" if s.status == "ERROR" else ""
    extra = f"  {' '.join(shown)}" if shown else ""
    return f"{s.name} ({s.duration_ms:.1f} ms){status}{extra}"


DEFAULT_ATTRS = ("segue.arm", "segue.experiment_id", "segue.candidates", "segue.tracks", "segue.fallback_reason",
                 "segue.intent_source", "error.type")


def format_tree(spans: list[SpanRecord], attrs: tuple[str, ...] = DEFAULT_ATTRS, versions: bool = False) -> str:
    """One trace as an indented tree; spans whose parent is missing are shown as roots."""
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[SpanRecord]] = defaultdict(list)
    for s in spans:
        children[s.parent_id if s.parent_id in ids else None].append(s)
    for kids in children.values():
        kids.sort(key=lambda s: s.start_ns)
    lines = [f"trace {spans[0].trace_id} ({len(spans)} spans, service {spans[0].service})"] if spans else []

    def walk(s: SpanRecord, prefix: str, last: bool) -> None:
        lines.append(f"{prefix}{'└─ ' if last else '├─ '}{_label(s, attrs, versions)}")
        kids = children.get(s.span_id, [])
        for i, k in enumerate(kids):
            walk(k, prefix + ("   " if last else "│  "), i == len(kids) - 1)

    roots = children.get(None, [])
    for i, r in enumerate(roots):
        walk(r, "", i == len(roots) - 1)
    return "\n".join(lines)


def load_jsonl(path: str) -> list[SpanRecord]:
    with open(path) as f:
        return [SpanRecord(**json.loads(line)) for line in f if line.strip()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="trace-tree", description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4318, help="OTLP/HTTP port to listen on (default 4318)")
    p.add_argument("--jsonl", default=None, help="also append every span to this file")
    p.add_argument("--from", dest="from_file", default=None, help="print the traces in a JSONL file and exit")
    p.add_argument("--versions", action="store_true", help="show every component version on each span")
    # Ray's processes batch spans for up to 5 s (OTEL_BSP_SCHEDULE_DELAY): wait longer than that.
    p.add_argument("--quiet-s", type=float, default=6.0, help="print a trace once no span of it arrived for this long")
    args = p.parse_args(argv)

    if args.from_file:
        for spans in group_traces(load_jsonl(args.from_file)).values():
            print(format_tree(spans, versions=args.versions), end="\n\n")
        return 0

    pending: dict[str, float] = {}
    lock = threading.Lock()

    def seen(spans: list[SpanRecord]) -> None:
        with lock:
            for s in spans:
                pending[s.trace_id] = time.monotonic()

    with OtlpReceiver(args.host, args.port, args.jsonl, on_spans=seen) as rx:
        print(f"trace-tree: listening on {rx.endpoint}/v1/traces (Ctrl-C to stop)", flush=True)
        try:
            while True:
                time.sleep(0.5)
                with lock:
                    done = [t for t, ts in pending.items() if time.monotonic() - ts > args.quiet_s]
                    for t in done:
                        del pending[t]
                for t in done:
                    print(format_tree(rx.spans(t), versions=args.versions), end="\n\n", flush=True)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
