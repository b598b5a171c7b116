"""Run the graph on a local Ray: start, wait until ready, serve until Ctrl-C, shut down cleanly."""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
import time

import httpx

from serving.config import AppConfig
from serving.edge.env import edge_env
from serving.telemetry_config import tracing_env


class NotReadyInTime(RuntimeError):
    pass


def start_local_graph(
    config: AppConfig,
    num_cpus: int | None = 2,
    timeout_s: float = 300,
    stop: threading.Event | None = None,
    quiet: bool = True,
    declarative: bool = False,
) -> str:
    """Build/load the index here, start (or reuse) a local Ray, deploy the graph and
    wait for /readyz. Returns the base URL; the caller owns serve/ray shutdown.

    `declarative` deploys the way KubeRay does (a Serve config), so that a later weight
    change touches only the Ingress user_config and reaches reconfigure() without a
    restart; `serve.run` apps are rebuilt by such a change."""
    import ray
    from ray import serve

    from serving.app import build_app
    from serving.retrieval.prebuild import ensure_index

    # Built in this process, before Ray: it has every core and a progress bar, while a
    # Retriever replica gets a fraction of one. Replicas then load the cache.
    idx, n = ensure_index(config, quiet=quiet)
    if not quiet:
        print(f"segue: index {idx.version} {'built' if idx.built else 'loaded from cache'} "
              f"in {idx.seconds:.1f}s ({n} tracks)", flush=True)
    if not ray.is_initialized():
        # Ray Serve reads its tracing settings from the environment of every process it starts
        # (an already running Ray keeps the settings it was started with).
        os.environ.update(ray_env(config))
        ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level="WARNING" if not quiet else "ERROR",
                 log_to_driver=False, _metrics_export_port=config.telemetry.metrics_export_port)
    # One node: replicas the node's CPUs cannot hold are never asked for (serving/capacity.py).
    from serving.capacity import bound_to_cpus

    bounded = bound_to_cpus(config, float(ray.cluster_resources().get("CPU", 0)) or float(os.cpu_count() or 1))
    for line in bounded.changes:
        print(f"segue: autoscaling bounded by the node's CPUs: {line}", flush=True)
    config = bounded.config
    serve.start(http_options=http_options(config))
    if declarative:
        from serving.serve_deploy import deploy

        deploy(config, config.experiment, wait_s=timeout_s)
    else:
        serve.run(build_app(config), name=config.name, route_prefix=config.route_prefix, blocking=False)
    base = f"http://{config.http.host}:{config.http.port}"
    if not _wait_ready(base, timeout_s, stop or threading.Event(), quiet):
        raise NotReadyInTime(f"not ready after {timeout_s:.0f}s; see the Ray logs under /tmp/ray/session_latest/logs")
    return base


def ray_env(config: AppConfig) -> dict[str, str]:
    """Environment for the processes Ray starts: tracing and the edge guard (serving/edge)."""
    return {**tracing_env(config.telemetry), **edge_env(config.edge_settings())}


def http_options(config: AppConfig) -> dict:
    """Serve's proxy options; the timeouts are the edge's (AppConfig.http.timeouts)."""
    t = config.http.timeouts
    return {"host": config.http.host, "port": config.http.port,
            "request_timeout_s": t.request_s, "keep_alive_timeout_s": t.keep_alive_s}


def serve_forever(config: AppConfig, num_cpus: int | None = None, ready_timeout_s: float = 900,
                  declarative: bool = False, on_ready=None) -> int:
    """Serve until SIGINT (Ctrl-C, also when sent to the whole process group) or SIGTERM, then
    stop Serve, Ray and every process they started within ~10 s. A second signal stops at once.
    `on_ready(base_url, stop_event)` runs once the graph answers (e.g. starts the rollout
    controller; it needs `declarative` so that weight changes do not restart replicas)."""
    from serving.shutdown import descendants, reap, stop_serving

    t0 = time.monotonic()
    stop = threading.Event()
    serving = threading.Event()

    def on_signal(signum, frame):
        if stop.is_set():  # asked twice: no more waiting
            reap(descendants(), term_wait_s=0.5)
            os._exit(128 + signum)
        print(f"segue: {signal.Signals(signum).name}: shutting down", flush=True)
        stop.set()
        if not serving.is_set():
            raise KeyboardInterrupt  # abort a start-up in progress (index build, ray.init, serve.run)

    # Installed explicitly: a process started in the background by a non-interactive shell
    # inherits SIGINT *ignored*, and Python then never turns Ctrl-C into KeyboardInterrupt.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    rc = 0
    try:
        base = start_local_graph(config, num_cpus, ready_timeout_s, stop, quiet=False, declarative=declarative)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # ray.init may have set its own
            signal.signal(sig, on_signal)
        if not stop.is_set():
            serving.set()
            print(f"segue ready on {base} in {time.monotonic() - t0:.1f}s (Ctrl-C to stop)", flush=True)
            print(f"  console: {base}{config.route_prefix.rstrip('/')}/ui", flush=True)
            if config.experiment is not None:
                print(f"  experiment: {base}{config.route_prefix.rstrip('/')}/ui/experiments/{config.experiment.id}",
                      flush=True)
            if on_ready is not None:
                on_ready(base + config.route_prefix.rstrip("/"), stop)
            print(f"  metrics: {_metrics_url(config.http.host)}; tracing: {_tracing_summary(config)}", flush=True)
            print(
                f"  try: curl -s -X POST {base}/v1/playlists -H 'content-type: application/json' "
                "-d '{\"prompt\":\"heavy metal to work out to\",\"length\":20}'",
                flush=True,
            )
        while not stop.wait(0.5):
            pass
    except NotReadyInTime as e:
        print(f"segue: {e}", file=sys.stderr)
        rc = 1
    except KeyboardInterrupt:
        pass
    finally:
        serving.set()  # from here a signal only sets `stop` (or, twice, kills)
        t1 = time.monotonic()
        clean = stop_serving()
        print(f"segue: stopped in {time.monotonic() - t1:.1f}s", flush=True)
    if not clean:
        # An abandoned ray.shutdown would block the interpreter's exit in Ray's atexit hook.
        sys.stdout.flush()
        os._exit(rc)
    return rc


def _wait_ready(base: str, timeout_s: float, stop: threading.Event, quiet: bool) -> bool:
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline and not stop.is_set():
        try:
            r = httpx.get(f"{base}/readyz", timeout=5)
            if r.status_code == 200:
                return True
            detail = r.json().get("detail", "")
            if detail.startswith("index failed"):
                raise NotReadyInTime(detail)
            if re.sub(r"\d+", "", detail) != last and not quiet:
                print(f"segue: waiting: {detail}", flush=True)
                last = re.sub(r"\d+", "", detail)
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    return False


def _metrics_url(host: str) -> str:
    import ray

    port = ray._private.worker.global_worker.node.metrics_export_port
    return f"http://{host}:{port}/metrics"


def _tracing_summary(config: AppConfig) -> str:
    t = config.telemetry
    if not t.enabled:
        return "off (telemetry.enabled: false)"
    to = [x for x in (t.otlp_endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"),
                      "console" if t.console else None) if x]
    return f"on, sampling {t.sampling_ratio:g}, spans to {', '.join(to) or 'nowhere'}"
