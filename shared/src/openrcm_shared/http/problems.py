"""RFC 9457 problem details for every error, with JSON pointers to the fields at fault.

Malformed input is always a 4xx naming the field; an unavailable database is a fast 503 with
Retry-After; an unexpected error is a 500 that reveals nothing but its trace id.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from openrcm_shared.http.media_types import is_json_media_type
from openrcm_shared.messaging.errors import is_transient
from openrcm_shared.observability import current_trace_id

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://openrcm.org/problems/"


class Problem(Exception):
    """Raise to answer with a problem+json document."""

    def __init__(self, status: int, title: str, detail: str | None = None, *, type_: str = "about:blank",
                 errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None,
                 **extensions: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_ if type_ == "about:blank" or type_.startswith("http") else PROBLEM_BASE + type_
        self.errors = errors
        self.headers = headers
        self.extensions = extensions


class RefusedRequest(HTTPException):
    """A `Problem` raised from inside the reading of a request body (a body-size limit, a JSON
    check). FastAPI turns any other exception raised there into a bare 400; an HTTPException it
    lets through, and `install_problem_handlers` answers it with the problem it carries."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.status, problem.title, problem.headers)
        self.problem = problem


def field_error(pointer: str, detail: str) -> dict[str, str]:
    return {"pointer": pointer, "detail": detail}


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": problem.type, "title": problem.title, "status": problem.status}
    if problem.detail:
        body["detail"] = problem.detail
    if request is not None:
        body["instance"] = request.url.path
    if problem.errors:
        body["errors"] = problem.errors
    body.update(problem.extensions)
    return JSONResponse(body, status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers)


def unsupported_media_type(content_type: str | None, expected: str = "application/json") -> Problem:
    """415 (RFC 9110 §15.5.16) naming the Content-Type header."""
    media_type = (content_type or "").split(";", 1)[0].strip() or "missing"
    return Problem(415, "Unsupported media type", f"Send the body as {expected}.", type_="unsupported-media-type",
                   errors=[field_error("/header/Content-Type", f"{media_type} is not accepted")])


def json_pointer(location: tuple | list) -> str:
    """pydantic's error location -> RFC 6901 pointer into the request body (or #/query/..., #/header/...)."""
    parts = list(location)
    prefix = ""
    if parts and parts[0] == "body":
        parts = parts[1:]
    elif parts and parts[0] in ("query", "path", "header"):
        prefix = "/" + str(parts.pop(0))
    escaped = [str(p).replace("~", "~0").replace("/", "~1") for p in parts]
    return prefix + ("/" + "/".join(escaped) if escaped else "")


def _body_of_another_media_type(request: Request, exc: RequestValidationError) -> bool:
    """FastAPI parses a body as JSON only when its Content-Type says JSON; any other body reaches the
    model as raw bytes, and fails as a whole."""
    return not is_json_media_type(request.headers.get("content-type")) and any(
        tuple(e.get("loc", ())) == ("body",) and isinstance(e.get("input"), (bytes, bytearray)) for e in exc.errors())


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    if _body_of_another_media_type(request, exc):
        return problem_response(unsupported_media_type(request.headers.get("content-type")), request)
    errors = []
    for error in exc.errors():
        # pydantic's message only; the input value is not echoed (it may be PHI).
        message = error.get("msg", "invalid")
        errors.append(field_error(json_pointer(error.get("loc", ())), message))
    status = 400 if any(e.get("type") == "json_invalid" for e in exc.errors()) else 422
    title = "Malformed JSON body" if status == 400 else "The request has invalid fields"
    return problem_response(Problem(status, title, type_="validation-error", errors=errors), request)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return problem_response(Problem(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None)), request)


async def _problem(request: Request, exc: Problem) -> JSONResponse:
    return problem_response(exc, request)


async def _refused(request: Request, exc: RefusedRequest) -> JSONResponse:
    return problem_response(exc.problem, request)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if is_transient(exc):
        log.warning("dependency unavailable", extra={"error_class": type(exc).__name__})
        return problem_response(Problem(
            503, "A dependency is unavailable", "The database could not be reached in time (down, restarting, "
            "or every connection busy); retry shortly.",
            type_="dependency-unavailable", headers={"Retry-After": "2"}), request)
    log.exception("unhandled error")
    return problem_response(Problem(500, "Internal error", type_="internal-error", trace_id=current_trace_id()), request)


# Errors from an unreachable or restarting database are answered inside the exception
# middleware (a 503 with Retry-After), not left to the server-error fallback.
_DEPENDENCY_ERRORS: tuple[type[Exception], ...] = (OSError, TimeoutError, sa_exc.DBAPIError, sa_exc.TimeoutError)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _problem)
    app.add_exception_handler(RefusedRequest, _refused)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for error_class in _DEPENDENCY_ERRORS:
        app.add_exception_handler(error_class, _unexpected)
    app.add_exception_handler(Exception, _unexpected)
