"""How errors become HTTP responses: one place, one table (serving.errors.STATUS)."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from serving.errors import Overloaded, SegueError, StageTimeout, status_for
from serving.schemas import ErrorBody

log = logging.getLogger(__name__)


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def error_response(err: SegueError, request_id: str | None, details: list[dict] | None = None) -> JSONResponse:
    headers = {"Retry-After": str(err.retry_after_s)} if err.retry_after_s else {}
    if request_id:
        headers["X-Request-ID"] = request_id
    body = ErrorBody(error=err.code, message=err.message, request_id=request_id, details=details)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status_for(err), headers=headers)


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
    elif kind == "model_attributes_type" or (kind == "dict_type" and field == "body"):
        field, msg = "body", "request body must be a JSON object"
    else:
        msg = f"{field}: {err.get('msg', 'invalid value')}"
    return {"field": field, "rule": kind, "message": msg}


def install_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        details = [_describe(e) for e in exc.errors()]
        status = 400 if any(d["rule"] == "json_invalid" for d in details) else 422
        body = ErrorBody(
            error="invalid_request",
            message="; ".join(d["message"] for d in details),
            request_id=_request_id(request),
            details=json.loads(json.dumps(details, default=str)),
        )
        return JSONResponse(body.model_dump(exclude_none=True), status_code=status)

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


def map_platform_error(exc: Exception) -> SegueError | None:
    """Ray Serve's own failures that mean 'busy' or 'slow' rather than 'broken'."""
    name = type(exc).__name__
    if name == "BackPressureError":
        return Overloaded("the service is at capacity (queues full); retry shortly", retry_after_s=2)
    if name in ("TimeoutError", "GetTimeoutError", "RequestCancelledError"):
        return StageTimeout("a stage did not answer in time; retry shortly", retry_after_s=2)
    return None
