"""Domain errors and the one table that maps them to HTTP status codes."""

from __future__ import annotations


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


class UnprocessableFeedback(SegueError):
    """422: feedback names a track that is not in the playlist it refers to."""

    code = "invalid_feedback"


class PayloadTooLarge(SegueError):
    """413: the request body is over the configured limit."""

    code = "payload_too_large"


class RateLimited(SegueError):
    """429: this client sent too many requests; retry after the given seconds."""

    code = "rate_limited"


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
    UnprocessableFeedback: 422,
    PayloadTooLarge: 413,
    RateLimited: 429,
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
