"""The environment that turns the edge on in every process Ray starts.

Like tracing (serving/telemetry_config.py): set by serving/server.py before ray.init,
and by the Helm chart in the Ray pods. FORWARDED_ALLOW_IPS='' stops uvicorn (in Serve's
proxy) from replacing the socket peer with a client-written X-Forwarded-For for
loopback peers: the Ingress decides whom to trust (security.trusted_proxies)."""

from __future__ import annotations

from serving.edge.config import EdgeSettings

ENV_CALLBACK = "RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH"
CALLBACK = "serving.edge.proxy:middlewares"
ENV_SETTINGS = "SEGUE_EDGE_SETTINGS"
ENV_FORWARDED = "FORWARDED_ALLOW_IPS"


def edge_env(settings: EdgeSettings) -> dict[str, str]:
    return {ENV_CALLBACK: CALLBACK, ENV_SETTINGS: settings.model_dump_json(), ENV_FORWARDED: ""}
