"""Domain errors, the one table that maps them to HTTP status codes, and the one
encoder that writes every error body Segue sends: {error, message, request_id, details}.

The encoder is plain bytes (no web framework) so the edge guard in Serve's proxy
process, the Ingress middleware and FastAPI's handlers all write the same shape."""

from __future__ import annotations

import json
import math


class SegueError(Exception):
    """Base of every error Segue reports to a client. `code` is stable and machine-readable."""

    code = "internal_error"

    def __init__(self, message: str, *, retry_after_s: int | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s


class InvalidRequest(SegueError):
    """400: the request is malformed in a way the schema could not express."""

    code = "invalid_request"


class NotFound(SegueError):
    """404: the named object (playlist, experiment) does not exist."""

    code = "not_found"


class Unauthorized(SegueError):
    """401: an admin token is required and was missing or wrong."""

    code = "unauthorized"


class Conflict(SegueError):
    """409: the request clashes with the object's state (a session past its turn limit, a concurrent turn)."""

    code = "conflict"


class UnprocessableFeedback(SegueError):
    """422: feedback names a track that is not in the playlist it refers to."""

    code = "invalid_feedback"


class PayloadTooLarge(SegueError):
    """413: the request body is over the configured limit."""

    code = "payload_too_large"


class RateLimited(SegueError):
    """429: this client sent too many requests; retry after the given seconds."""

    code = "rate_limited"


class InvalidHeader(SegueError):
    """400: a request header is malformed (bytes that are not UTF-8, control characters)."""

    code = "invalid_header"


class MethodNotAllowed(SegueError):
    """405: the path exists but not for this HTTP method."""

    code = "method_not_allowed"


class RequestTimeout(SegueError):
    """408: the client did not send its headers or body within the configured time."""

    code = "request_timeout"


class UriTooLong(SegueError):
    """414: the request target is longer than the configured limit."""

    code = "uri_too_long"


class UnsupportedMediaType(SegueError):
    """415: a request body that is not `application/json`."""

    code = "unsupported_media_type"


class HeadersTooLarge(SegueError):
    """431: too many request headers, or too many header bytes."""

    code = "headers_too_large"


class NotReady(SegueError):
    """503: a component is still starting (e.g. the index is loading)."""

    code = "not_ready"


class Overloaded(SegueError):
    """503: queues are full; retry after the given seconds."""

    code = "overloaded"


class StageUnavailable(SegueError):
    """503: a stage's replicas are gone (restarting); retry after the given seconds."""

    code = "stage_unavailable"


class StoreUnavailable(SegueError):
    """503: the experiment store (database) cannot be reached; retry after the given seconds."""

    code = "store_unavailable"


class StageTimeout(SegueError):
    """504: a stage did not answer in time and had no fallback."""

    code = "stage_timeout"


STATUS: dict[type[SegueError], int] = {
    InvalidRequest: 400,
    Unauthorized: 401,
    NotFound: 404,
    Conflict: 409,
    UnprocessableFeedback: 422,
    InvalidHeader: 400,
    MethodNotAllowed: 405,
    RequestTimeout: 408,
    PayloadTooLarge: 413,
    UriTooLong: 414,
    UnsupportedMediaType: 415,
    RateLimited: 429,
    HeadersTooLarge: 431,
    NotReady: 503,
    Overloaded: 503,
    StageUnavailable: 503,
    StoreUnavailable: 503,
    StageTimeout: 504,
    SegueError: 500,
}


def status_for(err: SegueError) -> int:
    for cls in type(err).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


# What a bare HTTP status from the platform (Starlette's 404/405, Serve's proxy) means here.
_BY_STATUS: dict[int, type[SegueError]] = {
    400: InvalidRequest, 401: Unauthorized, 404: NotFound, 405: MethodNotAllowed, 408: RequestTimeout,
    413: PayloadTooLarge, 414: UriTooLong, 415: UnsupportedMediaType, 429: RateLimited, 431: HeadersTooLarge,
    503: Overloaded, 504: StageTimeout,
}


def error_for_status(status: int, message: str) -> SegueError:
    """The domain error for a status some other layer chose (e.g. Starlette's 404)."""
    return _BY_STATUS.get(status, SegueError)(message)


def retry_after_seconds(wait_s: float) -> int:
    """Whole seconds for a Retry-After header and for the message that quotes it: the two must agree."""
    return max(1, math.ceil(wait_s))


def encode_error(err: SegueError, request_id: str | None,
                 details: list[dict] | None = None) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """(status, headers, body) of the error response: the one writer of error bodies."""
    body: dict = {"error": err.code, "message": err.message}
    if request_id:
        body["request_id"] = request_id
    if details:
        body["details"] = details
    raw = json.dumps(body, default=str).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    if request_id:
        headers.append((b"x-request-id", request_id.encode()))
    if err.retry_after_s:
        headers.append((b"retry-after", str(err.retry_after_s).encode()))
    if isinstance(err, Unauthorized):
        headers.append((b"www-authenticate", b'Bearer realm="segue"'))
    return status_for(err), headers, raw


async def send_error(send, err: SegueError, request_id: str | None, details: list[dict] | None = None) -> None:
    """Write the error as an ASGI response (for pure ASGI middleware)."""
    status, headers, body = encode_error(err, request_id, details)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
