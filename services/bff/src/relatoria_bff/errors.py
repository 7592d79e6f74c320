"""HTTP errors: JSON bodies with a stable `code`, a message and the offending field's path."""

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from relatoria_shared.db.pool import OUTAGES, is_outage
from relatoria_shared.domain.request_errors import (
    IdempotencyKeyReused,
    InvalidCursor,
    NotCancellable,
    OwnerLimitReached,
    PostRateExceeded,
    ReportExpired,
    ReportNotFound,
    ReportNotReady,
    RequestRefused,
    SigningSecretMissing,
    TooManyInFlight,
    TooManyWebhooks,
    WebhookNotFound,
    WebhookUrlForbidden,
)
from relatoria_shared.domain.validation import RequestRejected
from relatoria_shared.exception_text import described

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answered to the client as-is."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        path: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.path = path
        self.headers = headers
        self.extra = extra or {}


def error_body(code: str, message: str, path: str | None = None, **extra: Any) -> dict[str, Any]:
    """The JSON shape of every error response."""
    return {"code": code, "message": message, "path": path, **extra}


# Absent and not-yours look the same (404), so ids cannot be probed.
_REFUSAL_STATUS: dict[type[RequestRefused], int] = {
    ReportNotFound: 404,
    IdempotencyKeyReused: 422,
    NotCancellable: 409,
    ReportNotReady: 409,
    ReportExpired: 410,
    InvalidCursor: 400,
    TooManyInFlight: 429,
    PostRateExceeded: 429,
    WebhookUrlForbidden: 422,
    SigningSecretMissing: 409,
    WebhookNotFound: 404,
    TooManyWebhooks: 409,
}


def _location(loc: tuple[int | str, ...]) -> str:
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(
        error_body(exc.code, exc.message, exc.path, **exc.extra),
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def _refused(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestRefused)
    extra = dict(exc.extra)
    path = extra.pop("path", None)
    headers = None
    if isinstance(exc, OwnerLimitReached):
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after_seconds)))}
    return JSONResponse(
        error_body(exc.code, exc.message, path, **extra),
        status_code=_REFUSAL_STATUS[type(exc)],
        headers=headers,
    )


async def _rejected(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestRejected)
    first = exc.first
    details = [{"code": v.code.value, "path": v.path, "message": v.message} for v in exc.violations]
    return JSONResponse(
        error_body(first.code.value, first.message, first.path, details=details), status_code=422
    )


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return JSONResponse(error_body("INVALID_JSON", "the body is not valid JSON"), 400)
    details = [
        {"code": "VALIDATION_ERROR", "path": _location(tuple(e["loc"])), "message": e["msg"]}
        for e in errors[:20]
    ]
    message = str(details[0]["message"]) if details else "invalid request"
    path = str(details[0]["path"]) if details else None
    return JSONResponse(error_body("VALIDATION_ERROR", message, path, details=details), 422)


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
    if exc.status_code == 400 and "parsing the body" in str(exc.detail):
        code = "INVALID_JSON"  # undecodable bytes, numbers too long to parse
    return JSONResponse(
        error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
    )


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    if not is_outage(exc):
        raise exc  # not an outage: answered by `unhandled_errors`, like any other error
    log.error("backing service unavailable", extra={"error": described(exc)[:500]})
    return JSONResponse(
        error_body("SERVICE_UNAVAILABLE", "a backing service is unavailable; retry shortly"),
        status_code=503,
        headers={"Retry-After": "5"},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Make every error the app can raise answer in the one JSON shape (the errors no
    handler here takes are answered by the `unhandled_errors` middleware)."""
    for outage in OUTAGES:
        app.add_exception_handler(outage, _unavailable)
    app.add_exception_handler(RequestRefused, _refused)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestRejected, _rejected)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
