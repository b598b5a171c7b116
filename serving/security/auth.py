"""Admin token check. The token comes from a Kubernetes Secret via an env var read once
at start-up; there is no default token: without one, admin features are off."""

from __future__ import annotations

import hmac
import os


class AdminAuth:
    def __init__(self, token: str | None):
        self._token = token or None

    @classmethod
    def from_env(cls, var: str) -> "AdminAuth":
        return cls(os.environ.get(var))

    @property
    def enabled(self) -> bool:
        return self._token is not None

    def allows(self, authorization: str | None) -> bool:
        if self._token is None or not authorization:
            return False
        scheme, _, value = authorization.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), self._token.encode())
