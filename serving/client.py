"""A typed Python client of the Segue HTTP API (httpx), sync and async.

    from serving.client import SegueClient
    with SegueClient("http://127.0.0.1:8000") as segue:
        p = segue.playlist("rainy sunday jazz", length=10, user_id="listener-42")
        segue.feedback(p.playlist_id, p.tracks[0].track_id, "like")
        print(segue.experiment("ranker-canary").srm.mismatch)

Answers are the API's own pydantic models (serving/schemas.py). A non-2xx answer
raises `SegueAPIError` carrying the server's status, error code, message and
request id. 503 (and 429 with a Retry-After) are retried after the server's
Retry-After, a bounded number of times; so are connections that never reached the
server. Nothing else is retried: a timeout may have been served.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from serving.schemas import ExperimentSummary, FeedbackResponse, PlaylistResponse, SearchResponse

M = TypeVar("M", bound=BaseModel)
Event = Literal["play", "skip", "like", "save"]
OVERRIDE_HEADER = "X-Segue-Arm"


class SegueError(Exception):
    """Base of the client's errors."""


class SegueAPIError(SegueError):
    """The server answered with an error; `message` is the server's own words."""

    def __init__(self, status: int, error: str, message: str, request_id: str | None = None,
                 retry_after_s: float | None = None, details: list | None = None):
        super().__init__(f"{status} {error}: {message}" + (f" (request {request_id})" if request_id else ""))
        self.status, self.error, self.message = status, error, message
        self.request_id, self.retry_after_s, self.details = request_id, retry_after_s, details


class SegueConnectionError(SegueError):
    """The server could not be reached (or did not answer within the timeout)."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # tries in all, the first included
    default_wait_s: float = 1.0  # a 503 without Retry-After
    max_wait_s: float = 10.0  # never sleep longer than this on the server's word
    statuses: tuple[int, ...] = (503,)
    retry_429: bool = True  # only with a Retry-After header

    def wait_s(self, response: httpx.Response | None, attempt: int) -> float | None:
        """Seconds to wait before the next try, or None for no retry."""
        if attempt + 1 >= self.attempts:
            return None
        if response is None:  # never connected
            return min(self.default_wait_s * (attempt + 1), self.max_wait_s)
        after = retry_after(response)
        if response.status_code in self.statuses:
            return min(self.default_wait_s if after is None else after, self.max_wait_s)
        if response.status_code == 429 and self.retry_429 and after is not None:
            return min(after, self.max_wait_s)
        return None


NO_RETRIES = RetryPolicy(attempts=1)


def _limits(max_connections: int) -> httpx.Limits:
    """Idle connections are dropped after 1 s, well inside the server's keep-alive (5 s by
    default, http.timeouts.keep_alive_s): reusing one the server is closing at that moment is
    a reset mid-request, and a reset POST cannot be safely retried."""
    return httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections,
                        keepalive_expiry=1.0)


def retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:  # an HTTP date: rare for this API; fall back to the default wait
        return None


def api_error(response: httpx.Response) -> SegueAPIError:
    """The server's error body (`{error, message, request_id, details}`), whatever its shape."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        message = body.get("message") or body.get("detail") or response.text[:500]
        return SegueAPIError(response.status_code, str(body.get("error") or "http_error"),
                             message if isinstance(message, str) else str(message),
                             body.get("request_id") or response.headers.get("x-request-id"),
                             retry_after(response), body.get("details"))
    return SegueAPIError(response.status_code, "http_error", response.text[:500] or response.reason_phrase,
                         response.headers.get("x-request-id"), retry_after(response))


def decode(response: httpx.Response, model: type[M]) -> M:
    if not response.is_success:
        raise api_error(response)
    try:
        return model.model_validate(response.json())
    except (ValueError, ValidationError) as e:
        raise SegueError(f"{response.request.url} answered {response.status_code} with a body that is not a "
                         f"{model.__name__}: {e}") from e


@dataclass(frozen=True)
class _Call:
    method: str
    path: str
    model: type[BaseModel]
    json: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _playlist_call(prompt: str, length: int, user_id: str | None, arm: str | None, admin_token: str | None,
                   headers: dict[str, str] | None) -> _Call:
    body: dict[str, Any] = {"prompt": prompt, "length": length}
    if user_id is not None:
        body["user_id"] = user_id
    return _Call("POST", "/v1/playlists", PlaylistResponse, body, {**(headers or {}), **_override(arm, admin_token)})


def _search_call(query: str, limit: int, user_id: str | None, headers: dict[str, str] | None) -> _Call:
    body: dict[str, Any] = {"query": query, "limit": limit}
    if user_id is not None:
        body["user_id"] = user_id
    return _Call("POST", "/v1/search", SearchResponse, body, dict(headers or {}))


def _feedback_call(playlist_id: str, track_id: str, event: Event, headers: dict[str, str] | None = None) -> _Call:
    return _Call("POST", "/v1/feedback", FeedbackResponse, {"playlist_id": playlist_id, "track_id": track_id, "event": event},
                 dict(headers or {}))


def _experiment_call(experiment_id: str) -> _Call:
    return _Call("GET", f"/v1/experiments/{quote(experiment_id, safe='')}", ExperimentSummary)


def _override(arm: str | None, admin_token: str | None) -> dict[str, str]:
    if arm is None:
        return {}
    if not admin_token:
        raise SegueError("an arm override needs the admin token: SegueClient(..., admin_token=...)")
    return {OVERRIDE_HEADER: arm, "Authorization": f"Bearer {admin_token}"}


@dataclass(frozen=True)
class _Wait:
    seconds: float


class _Base:
    def __init__(self, base_url: str, timeout_s: float, retry: RetryPolicy, admin_token: str | None):
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL such as http://127.0.0.1:8000, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout_s, self.retry, self.admin_token = timeout_s, retry, admin_token

    def _step(self, call: _Call, attempt: int, response: httpx.Response | None = None,
              error: httpx.HTTPError | None = None):
        """What one attempt leads to, for the sync and the async client alike: the decoded
        answer, a _Wait before the next attempt, or an exception."""
        if error is not None:
            if not isinstance(error, httpx.ConnectError):  # it may have been served: never repeated
                raise SegueConnectionError(f"{call.method} {self.base_url}{call.path} failed: {error!r}") from error
            wait = self.retry.wait_s(None, attempt)
            if wait is None:
                raise SegueConnectionError(f"cannot reach {self.base_url}: {error}") from error
            return _Wait(wait)
        wait = self.retry.wait_s(response, attempt)
        return decode(response, call.model) if wait is None else _Wait(wait)


class SegueClient(_Base):
    """Blocking client; one connection pool, reused. Use as a context manager or call close()."""

    def __init__(self, base_url: str, *, timeout_s: float = 30.0, retry: RetryPolicy = RetryPolicy(),
                 admin_token: str | None = None, transport: httpx.BaseTransport | None = None,
                 max_connections: int = 10):
        super().__init__(base_url, timeout_s, retry, admin_token)
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s, transport=transport,
                                  limits=_limits(max_connections))

    def __enter__(self) -> "SegueClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, call: _Call):
        for attempt in range(self.retry.attempts):
            try:
                step = self._step(call, attempt, self._http.request(call.method, call.path, json=call.json,
                                                                    headers=call.headers))
            except httpx.HTTPError as e:
                step = self._step(call, attempt, error=e)
            if not isinstance(step, _Wait):
                return step
            time.sleep(step.seconds)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def playlist(self, prompt: str, *, length: int = 20, user_id: str | None = None, arm: str | None = None,
                 headers: dict[str, str] | None = None) -> PlaylistResponse:
        """POST /v1/playlists. `arm` forces an experiment arm (QA; needs the admin token);
        `headers` are sent as well (e.g. a `traceparent`)."""
        return self._send(_playlist_call(prompt, length, user_id, arm, self.admin_token, headers))

    def search(self, query: str, *, limit: int = 10, user_id: str | None = None,
               headers: dict[str, str] | None = None) -> SearchResponse:
        return self._send(_search_call(query, limit, user_id, headers))

    def feedback(self, playlist_id: str, track_id: str, event: Event,
                 headers: dict[str, str] | None = None) -> FeedbackResponse:
        return self._send(_feedback_call(playlist_id, track_id, event, headers))

    def experiment(self, experiment_id: str) -> ExperimentSummary:
        """GET /v1/experiments/{id}: per-arm numbers with intervals, SRM and sequential tests."""
        return self._send(_experiment_call(experiment_id))

    def ready(self) -> bool:
        """GET /readyz: True once the index is loaded; False while starting or unreachable."""
        try:
            return self._http.get("/readyz").status_code == 200
        except httpx.HTTPError:
            return False


class AsyncSegueClient(_Base):
    """The same API for asyncio code (load tools, simulations)."""

    def __init__(self, base_url: str, *, timeout_s: float = 30.0, retry: RetryPolicy = RetryPolicy(),
                 admin_token: str | None = None, transport: httpx.AsyncBaseTransport | None = None,
                 max_connections: int = 10):
        super().__init__(base_url, timeout_s, retry, admin_token)
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout_s, transport=transport,
                                       limits=_limits(max_connections))

    async def __aenter__(self) -> "AsyncSegueClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, call: _Call):
        for attempt in range(self.retry.attempts):
            try:
                step = self._step(call, attempt, await self._http.request(call.method, call.path, json=call.json,
                                                                          headers=call.headers))
            except httpx.HTTPError as e:
                step = self._step(call, attempt, error=e)
            if not isinstance(step, _Wait):
                return step
            await asyncio.sleep(step.seconds)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def playlist(self, prompt: str, *, length: int = 20, user_id: str | None = None, arm: str | None = None,
                       headers: dict[str, str] | None = None) -> PlaylistResponse:
        return await self._send(_playlist_call(prompt, length, user_id, arm, self.admin_token, headers))

    async def search(self, query: str, *, limit: int = 10, user_id: str | None = None,
                     headers: dict[str, str] | None = None) -> SearchResponse:
        return await self._send(_search_call(query, limit, user_id, headers))

    async def feedback(self, playlist_id: str, track_id: str, event: Event,
                       headers: dict[str, str] | None = None) -> FeedbackResponse:
        return await self._send(_feedback_call(playlist_id, track_id, event, headers))

    async def experiment(self, experiment_id: str) -> ExperimentSummary:
        return await self._send(_experiment_call(experiment_id))

    async def ready(self) -> bool:
        try:
            return (await self._http.get("/readyz")).status_code == 200
        except httpx.HTTPError:
            return False
