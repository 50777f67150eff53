"""One renderer for every error: ``{"error": {"code", "message", "details"}}``.

Whatever an error quotes from the request is made safe here, once: every string in the message
and the details is cut to a bounded excerpt and anything that cannot be encoded as UTF-8 (a lone
surrogate) is replaced by its ``\\uXXXX`` escape, so rendering an error never fails and an error
is never larger than a few kilobytes whatever the input was."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.db import DATABASE_OUTAGES
from core.errors import AppError
from core.settings import get_settings

log = logging.getLogger(__name__)


#: Longest string an error quotes (longer ones end with "...").
MAX_QUOTED_CHARS = 200
#: Most items of a list or dict an error quotes.
MAX_QUOTED_ITEMS = 20
_MAX_DEPTH = 4


def safe_excerpt(text: str, limit: int = MAX_QUOTED_CHARS) -> str:
    cut = text if len(text) <= limit else text[:limit] + "..."
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in cut):
        cut = "".join(f"\\u{ord(ch):04x}" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in cut)
    return cut.replace("\x00", "\\u0000")


def safe_value(value: Any, depth: int = 0) -> Any:
    """A JSON-safe, bounded copy of what an error quotes."""
    if isinstance(value, str):
        return safe_excerpt(value)
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else safe_excerpt(str(value), 40)
    if depth >= _MAX_DEPTH:
        return "..."
    if isinstance(value, dict):
        items = list(value.items())[:MAX_QUOTED_ITEMS]
        return {safe_excerpt(str(k), 64): safe_value(v, depth + 1) for k, v in items}
    if isinstance(value, list | tuple | set | frozenset):
        return [safe_value(v, depth + 1) for v in list(value)[:MAX_QUOTED_ITEMS]]
    return safe_excerpt(str(value))


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = {}


class ErrorResponse(BaseModel):
    error: ErrorBody


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "code": safe_excerpt(code, 64),
                "message": safe_excerpt(message, 2 * MAX_QUOTED_CHARS),
                "details": safe_value(details or {}),
            }
        },
        status_code=status,
        headers=headers,
    )


_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
}


def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """A database outage is a dependency failure, not a bug: 503 with Retry-After."""
    log.warning(
        "request.database_unavailable path=%s error=%s", request.url.path, type(exc).__name__
    )
    return error_response(
        503,
        "SERVICE_UNAVAILABLE",
        "The database is unavailable; retry later",
        {"dependency": "database"},
        {"Retry-After": str(get_settings().dependency_retry_after_seconds)},
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        if exc.status_code >= 500:
            log.warning("request.dependency_error code=%s message=%s", exc.code, exc.message)
        return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "path": safe_excerpt(
                    ".".join(str(p) for p in e.get("loc", ()) if p != "body"), 120
                ),
                "message": safe_excerpt(str(e.get("msg", ""))),
            }
            for e in list(exc.errors())[:MAX_QUOTED_ITEMS]
        ]
        first = errors[0] if errors else {"path": "", "message": "invalid request"}
        return error_response(
            422,
            "VALIDATION_ERROR",
            f"{first['path'] or 'request'}: {first['message']}",
            {"errors": errors},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        return error_response(
            exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(PoolTimeout)
    async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        return database_unavailable(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, DATABASE_OUTAGES):  # raised outside the routes (auth in the limiter)
            return database_unavailable(request, exc)
        log.exception("request.unhandled path=%s", request.url.path)
        return error_response(500, "INTERNAL_ERROR", "An unexpected error occurred; it was logged")


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Declare an endpoint's error responses so they appear in OpenAPI."""
    return {
        s: {"model": ErrorResponse, "description": _HTTP_CODES.get(s, "Error")} for s in statuses
    }
