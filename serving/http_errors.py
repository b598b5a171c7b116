"""How errors become HTTP responses: one place, one table (serving.errors.STATUS), one
encoder (serving.errors.encode_error) for domain errors, validation errors, Starlette's
own 404/405/400 and platform failures alike."""

from __future__ import annotations

import functools
import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from serving.errors import (
    InvalidRequest, Overloaded, SegueError, StageTimeout, encode_error, error_for_status,
)

log = logging.getLogger(__name__)


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def error_response(err: SegueError, request_id: str | None, details: list[dict] | None = None) -> Response:
    status, headers, body = encode_error(err, request_id, details)
    return Response(body, status_code=status,
                    headers={k.decode(): v.decode() for k, v in headers if k != b"content-length"})


def _describe(err: dict) -> dict:
    loc = [str(x) for x in err.get("loc", ()) if x != "body"]
    field = ".".join(loc) or "body"
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        msg = f"unknown field '{field}'; remove it (allowed fields are listed at /docs)"
    elif kind == "missing":
        msg = f"field '{field}' is required"
    elif kind == "json_invalid":
        field, msg = "body", f"request body is not valid JSON ({err.get('ctx', {}).get('error', 'parse error')})"
    elif kind == "model_attributes_type" or (kind in ("dict_type", "model_type") and field == "body"):
        field, msg = "body", "request body must be a JSON object"
    elif kind in ("int_type", "string_type", "bool_type", "float_type"):
        want = kind.split("_")[0].replace("int", "integer").replace("bool", "boolean").replace("float", "number")
        msg = f"{field}: must be a JSON {want} (got {type(err.get('input')).__name__}); values are not converted"
    else:
        msg = f"{field}: {err.get('msg', 'invalid value')}"
    return {"field": field, "rule": kind, "message": msg}


def install_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        details = [_describe(e) for e in exc.errors()]
        err = InvalidRequest("; ".join(d["message"] for d in details))
        response = error_response(err, _request_id(request), json.loads(json.dumps(details, default=str)))
        # A body that is not JSON at all is a 400; JSON with wrong fields is a 422.
        response.status_code = 400 if any(d["rule"] == "json_invalid" for d in details) else 422
        return response

    @api.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        # Starlette's routing 404/405 and FastAPI's "error parsing the body" (deep nesting,
        # huge integers, invalid UTF-8) in the same shape as everything else.
        message = {404: f"no route {request.url.path}; see /docs for the API",
                   405: f"{request.method} is not allowed on {request.url.path}",
                   400: "request body could not be parsed as JSON (invalid UTF-8, too deeply nested, "
                        "or a number too large)"}.get(exc.status_code, str(exc.detail))
        return error_response(error_for_status(exc.status_code, message), _request_id(request))

    @api.exception_handler(SegueError)
    async def _domain(request: Request, exc: SegueError):
        return error_response(exc, _request_id(request))

    @api.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        mapped = map_platform_error(exc)
        if mapped is not None:
            return error_response(mapped, _request_id(request))
        log.exception("unhandled error in request %s", _request_id(request))
        return error_response(
            SegueError("internal error; the request id identifies it in the server logs"), _request_id(request)
        )


@functools.cache
def _platform_types() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """(busy, slow) exception types of Ray Serve, imported once and only when an error needs them."""
    import asyncio

    slow: list[type] = [TimeoutError, asyncio.TimeoutError]
    busy: list[type] = []
    try:
        from ray.exceptions import GetTimeoutError
        from ray.serve.exceptions import BackPressureError, RequestCancelledError
    except ImportError:  # the in-process tiers run without Ray
        return tuple(busy), tuple(slow)
    busy.append(BackPressureError)
    slow += [GetTimeoutError, RequestCancelledError]
    return tuple(busy), tuple(slow)


def map_platform_error(exc: BaseException) -> SegueError | None:
    """Ray Serve's own failures that mean 'busy' or 'slow' rather than 'broken', matched by type."""
    busy, slow = _platform_types()
    if isinstance(exc, busy):
        return Overloaded("the service is at capacity (queues full); retry shortly", retry_after_s=2)
    if isinstance(exc, slow):
        return StageTimeout("a stage did not answer in time; retry shortly", retry_after_s=2)
    return None
