"""What a `POST /v1/reports` carries besides its caller: the body, read and parsed as a
`ReportCreate` (a large one in its turn, see `relatoria_bff.body_budget`), and its
`Idempotency-Key`."""

import asyncio
import re

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from relatoria_bff.body_budget import LARGE_BODY_BYTES, READ_SECONDS
from relatoria_bff.errors import ApiError
from relatoria_bff.reports.schemas import ReportCreate
from relatoria_shared import json_codec
from relatoria_shared.settings import Settings

_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


async def report_create(request: Request, size: int) -> ReportCreate:
    """The body (of `size` bytes at most) as a `ReportCreate`, with FastAPI's own answers
    to a bad one: no body or a body not declared as JSON is a 422, undecodable JSON a 400
    (`INVALID_JSON`), and each invalid field a 422 naming its path under `body`. A large
    body is parsed in a thread: the loop keeps serving between the parser's steps."""
    raw = await _body(request, size)
    if not raw:
        raise _invalid_body("missing", "Field required")
    if not _declared_json(request.headers.get("content-type", "")):
        raise _invalid_body(
            "content_type", "the body must be JSON, sent with Content-Type: application/json"
        )
    if len(raw) <= LARGE_BODY_BYTES:
        return _parsed(raw)
    return await asyncio.to_thread(_parsed, raw)


async def _body(request: Request, size: int) -> bytes:
    """The body's bytes. A large one holds part of the body budget while it arrives, so it
    must arrive within `READ_SECONDS` (else 408); a small one holds only its connection."""
    if size <= LARGE_BODY_BYTES:
        return await request.body()
    try:
        async with asyncio.timeout(READ_SECONDS):
            return await request.body()
    except TimeoutError:
        raise ApiError(
            408, "REQUEST_TIMEOUT", f"the body did not arrive within {READ_SECONDS:g} seconds"
        ) from None


def _parsed(raw: bytes) -> ReportCreate:
    try:
        data = json_codec.loads_exact(raw)
    except ValueError as exc:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error"}]
        ) from exc
    try:
        return ReportCreate.model_validate(data)
    except ValidationError as exc:
        errors = [
            {**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)
        ]
        raise RequestValidationError(errors) from None


def expected_size(request: Request, settings: Settings) -> int:
    """The body's declared length; a body without one (chunked) may be as large as the
    body limit allows."""
    declared = request.headers.get("content-length", "")
    return int(declared) if declared.isdigit() else settings.max_body_bytes


def _declared_json(content_type: str) -> bool:
    media_type = content_type.partition(";")[0].strip().lower()
    main, _, sub = media_type.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def _invalid_body(kind: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"type": kind, "loc": ("body",), "msg": message}])


def idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    # The IETF draft sends the key as a structured-field string: "…", quotes included.
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not _IDEMPOTENCY_KEY.match(key):
        raise ApiError(
            400,
            "INVALID_IDEMPOTENCY_KEY",
            "Idempotency-Key must be 1-255 printable ASCII characters",
            path="Idempotency-Key",
        )
    return key
