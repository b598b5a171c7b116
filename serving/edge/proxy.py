"""The hook Ray Serve calls in its HTTP proxy process (and, in HAProxy mode, in each
replica's direct-ingress server) before the server starts:
RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH=serving.edge.proxy:middlewares.

Serve gives the callback no arguments, so the settings travel in the environment
(serving/edge/env.py), read once here at proxy start-up."""

from __future__ import annotations

import logging
import os

from serving.edge.config import EdgeSettings
from serving.edge.env import ENV_SETTINGS

log = logging.getLogger(__name__)


def middlewares() -> list:
    from starlette.middleware import Middleware

    from serving.edge import connection
    from serving.edge.guard import EdgeGuard

    raw = os.environ.get(ENV_SETTINGS)
    settings = EdgeSettings.model_validate_json(raw) if raw else EdgeSettings()
    connection.install(settings)
    log.info("segue edge guard on: %s", settings.model_dump())
    return [Middleware(EdgeGuard, settings=settings)]
