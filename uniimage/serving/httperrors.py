"""Every failure a client can cause becomes an OpenAI-style JSON error with a 4xx code and a message.

Anything else is our bug: it answers 500 without internals, and the server keeps serving.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import InputError
from .limits import LimitError
from .queue import JobCancelled, JobTimeout, QueueFull

log = logging.getLogger("uniimage.serving")


def error_response(status: int, message: str, *, kind: str = "invalid_request_error", param=None, code=None, headers=None):
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def _where(err) -> str:
    return ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"


def _describe(errors) -> str:
    parts = []
    for err in errors:
        if err.get("type") == "extra_forbidden":
            parts.append(f"unknown field {_where(err)!r} (this server's fields: docs/serving.md)")
        else:
            parts.append(f"{_where(err)}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


# pydantic error type -> OpenAI's error code
_CODES = {"extra_forbidden": "unknown_parameter", "missing": "missing_required_parameter"}


async def on_validation(request: Request, exc: RequestValidationError):
    """OpenAI answers malformed requests with 400 invalid_request_error, naming the parameter."""
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "request body is not valid JSON", code="invalid_json")
    first = errors[0] if errors else {}
    return error_response(400, _describe(errors), param=_where(first) if errors else None,
                          code=_CODES.get(first.get("type"), "invalid_value"))


async def on_limit(request: Request, exc: LimitError):
    return error_response(exc.status, str(exc), param=exc.param, code="limit_exceeded" if exc.status == 413 else None)


async def on_input(request: Request, exc: InputError):
    return error_response(400, str(exc), code="invalid_input")


async def on_queue_full(request: Request, exc: QueueFull):
    return error_response(
        429, str(exc), kind="server_busy", code="queue_full", headers={"Retry-After": str(exc.retry_after)}
    )


async def on_timeout(request: Request, exc: JobTimeout):
    return error_response(504, str(exc), kind="timeout", code="timeout")


async def on_cancelled(request: Request, exc: JobCancelled):
    return error_response(499, str(exc), kind="cancelled", code="client_closed")  # nobody is listening


_HTTP_CODES = {401: "invalid_api_key", 404: "not_found", 405: "method_not_allowed"}


async def on_http(request: Request, exc: StarletteHTTPException):
    return error_response(exc.status_code, str(exc.detail), code=_HTTP_CODES.get(exc.status_code),
                          headers=getattr(exc, "headers", None))


async def on_unexpected(request: Request, exc: Exception):
    log.exception("unexpected error serving %s", request.url.path)
    return error_response(500, "internal server error", kind="server_error")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(LimitError, on_limit)
    app.add_exception_handler(InputError, on_input)
    app.add_exception_handler(QueueFull, on_queue_full)
    app.add_exception_handler(JobTimeout, on_timeout)
    app.add_exception_handler(JobCancelled, on_cancelled)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
