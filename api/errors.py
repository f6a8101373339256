"""The one place that turns errors into HTTP answers: RFC 9457 problem details.

Every :class:`~kg.core.errors.TraitKGError` maps to a status by its class (the nearest listed base
wins); the body is ``application/problem+json`` with ``type``, ``title``, ``status``, ``detail``
and ``instance``.

>>> status_for(UnknownPrefix("x"))
400
>>> status_for(GraphNotFound("g"))
404
>>> problem(406, "no acceptable format", extra={"accept": ["text/csv"]})["title"]
'Not Acceptable'
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.sparql_results import ResultLimitExceeded
from kg.core.errors import (
    GraphNotFound,
    IntegrityError,
    NotFound,
    ParseError,
    QueryError,
    SourceNotFound,
    StoreUnavailable,
    TraitKGError,
    UnknownFormat,
    UnknownPrefix,
    UnknownStoreScheme,
    ValidationError,
)

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"
TYPE_BASE = "https://w3id.org/traitkg/problems/"


class ApiError(TraitKGError):
    """An error that only exists at the HTTP boundary; carries its own status."""

    status = 400

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.headers = headers or {}
        self.extra = extra


class Unauthorized(ApiError):
    """No bearer token was sent."""

    status = 401


class Forbidden(ApiError, PermissionError):
    """A token was sent but is wrong, or the operation is switched off."""

    status = 403


class NotAcceptable(ApiError):
    """The Accept header names no format this resource can produce."""

    status = 406


class PayloadTooLarge(ApiError):
    """An upload is larger than ``TRAITKG_MAX_UPLOAD``."""

    status = 413


class UnsupportedMediaType(ApiError):
    """A request body's Content-Type is not one this endpoint reads."""

    status = 415


class QueryTimeout(ApiError, TimeoutError):
    """A SPARQL query ran past the time limit and was stopped."""

    status = 503


class ServiceRefused(ApiError, PermissionError):
    """A query asks for ``SERVICE`` on an endpoint that is not allow-listed."""

    status = 403


# The query limits answer by whether the same request can succeed later (the SPARQL 1.1 Protocol,
# 2.1.4, leaves the status of a refused query to the server). Whether a query finishes within the
# time limit depends on the load (the cores are shared with the other queries), so that answer is
# 503 with Retry-After (QueryTimeout). Whether an answer fits the result limit depends only on the
# query and the data: retrying never helps, so that answer is 403 (ResultLimitExceeded), the status
# of this endpoint's other policy refusals (SERVICE outside the allow-list, updates switched off).
# Both bodies name the setting (``setting``), its value (``limit``) and what to do.

#: Domain error class -> HTTP status (the first match in the class's MRO wins).
STATUS: dict[type[BaseException], int] = {
    ResultLimitExceeded: 403,
    UnknownPrefix: 400, QueryError: 400, ValidationError: 400, ParseError: 400, UnknownFormat: 400,
    UnknownStoreScheme: 400, IntegrityError: 409, NotFound: 404, GraphNotFound: 404, SourceNotFound: 404,
    StoreUnavailable: 503, TraitKGError: 400,
}


def status_for(exc: BaseException) -> int:
    """The HTTP status a domain error maps to."""
    if isinstance(exc, ApiError):
        return exc.status
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def _slug(exc_or_title: Any) -> str:
    name = type(exc_or_title).__name__ if isinstance(exc_or_title, BaseException) else str(exc_or_title)
    out = "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")
    return out.replace(" ", "-").replace("--", "-")


_STATUS_CODES = frozenset(s.value for s in HTTPStatus)


def problem(status: int, detail: str, *, type_: str | None = None, instance: str | None = None,
            extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A problem-details body."""
    title = HTTPStatus(status).phrase if status in _STATUS_CODES else "Error"
    body: dict[str, Any] = {"type": TYPE_BASE + (type_ or _slug(title).lower()), "title": title,
                            "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    if extra:
        body.update(extra)
    return body


def problem_response(status: int, detail: str, *, request: Request | None = None, type_: str | None = None,
                     headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> JSONResponse:
    body = problem(status, detail, type_=type_, instance=str(request.url.path) if request else None, extra=extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


async def _domain(request: Request, exc: Exception) -> JSONResponse:
    status = status_for(exc)
    headers = getattr(exc, "headers", None)
    extra = getattr(exc, "extra", None)
    return problem_response(status, str(exc), request=request, type_=_slug(exc), headers=headers, extra=extra)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return problem_response(exc.status_code, str(exc.detail), request=request, headers=dict(exc.headers or {}))


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errs = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()]
    detail = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in errs) or "invalid request"
    return problem_response(422, detail, request=request, type_="invalid-request", extra={"errors": errs})


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(500, f"internal error ({type(exc).__name__}); see the server log", request=request)


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(TraitKGError, _domain)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Exception, _unexpected)


#: OpenAPI ``responses`` entry for problem answers, reused by routers.
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                   "detail": {"type": "string"}, "instance": {"type": "string"}},
    "required": ["type", "title", "status", "detail"],
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status answered with a problem document."""
    return {s: {"description": HTTPStatus(s).phrase, "content": {PROBLEM: {"schema": PROBLEM_SCHEMA}}}
            for s in statuses}
