"""Routes of `/v1/reports` and `/v1/report-types`: translate HTTP, delegate to the service."""

import asyncio
import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import ValidationError

from relatoria_bff.body_budget import LARGE_BODY_BYTES, READ_SECONDS, BodyBudget
from relatoria_bff.dependencies import Authenticated, current_caller
from relatoria_bff.documented_errors import (
    INVALID_PARAMETERS,
    NOT_FOUND,
    UNAUTHORIZED,
    UNAVAILABLE,
    documented,
)
from relatoria_bff.errors import ApiError
from relatoria_bff.reports import service
from relatoria_bff.reports.schemas import (
    ReportAccepted,
    ReportCreate,
    ReportPage,
    ReportStatusRead,
    ReportTypeList,
    ReportTypeRead,
)
from relatoria_shared import json_codec
from relatoria_shared.catalog import CATALOG
from relatoria_shared.domain.status import ReportStatus
from relatoria_shared.logging_setup import bind_log_context
from relatoria_shared.settings import Settings

router = APIRouter(tags=["reports"])

_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")

_IDEMPOTENCY_KEY_DESCRIPTION = (
    "Retry-safe key (printable ASCII, at most 255 characters), per caller."
)

# The body is parsed by the route itself, after the caller is authenticated: what an
# unauthenticated client sends is never parsed. The operation still documents both.
CREATE_DOCUMENTED = {
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": _IDEMPOTENCY_KEY_DESCRIPTION,
            # 255 characters, or 257 in the draft's quoted (structured-field) form.
            "schema": {"type": "string", "maxLength": 257},
        }
    ],
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": ReportCreate.model_json_schema()}},
    },
}

CREATE_RESPONSES = documented(
    {
        400: "`INVALID_JSON`, `INVALID_IDEMPOTENCY_KEY`",
        408: "`REQUEST_TIMEOUT`: the body did not arrive in time",
        413: "`PAYLOAD_TOO_LARGE`: the body is over the size limit",
        422: "`VALIDATION_ERROR`, `IDEMPOTENCY_KEY_REUSED` and the catalog's codes, with "
        "the `path`",
        429: "`TOO_MANY_IN_FLIGHT`, `POST_RATE_EXCEEDED`: retry after `Retry-After`",
        503: "`SERVICE_UNAVAILABLE`, or `SERVER_BUSY` (other large bodies are being "
        "read): retry after `Retry-After`",
    },
    UNAUTHORIZED,
)
READ_RESPONSES = documented(UNAUTHORIZED, NOT_FOUND, UNAVAILABLE)


async def _report_create(request: Request, size: int) -> ReportCreate:
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


def _expected_size(request: Request, settings: Settings) -> int:
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


def _check_idempotency_key(key: str | None) -> str | None:
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


@router.post(
    "/v1/reports",
    status_code=201,
    response_model=ReportAccepted,
    openapi_extra=CREATE_DOCUMENTED,
    responses=CREATE_RESPONSES,
)
async def create_report(request: Request) -> JSONResponse:
    """Request a report. Answers at once; watch `Location` for its status. `429` with
    `Retry-After` when the caller is over its limits (reports in flight, posts per second)."""
    caller = await current_caller(request)  # before a byte of the body is read
    key = _check_idempotency_key(request.headers.get("idempotency-key"))
    budget: BodyBudget = request.app.state.body_budget
    # Held until the request is recorded: its parsed table lives until then.
    size = _expected_size(request, caller.resources.settings)
    async with budget.reserve(size):
        body = await _report_create(request, size)
        submission = await service.submit_report(
            resources=caller.resources, owner_id=caller.owner, body=body, idempotency_key=key
        )
    record = submission.record
    bind_log_context(request_id=str(record.id))
    headers = {"Location": f"/v1/reports/{record.id}"}
    if submission.replayed:
        headers["Idempotent-Replayed"] = "true"
    # Answered as built: the route's model documents the shape, without re-validating it.
    accepted = {
        "requestId": str(record.id),
        "status": record.status.value,
        "createdAt": record.created_at.isoformat(),
    }
    return JSONResponse(accepted, status_code=201, headers=headers)


@router.get(
    "/v1/reports",
    responses=documented(
        {400: "`INVALID_CURSOR`: the cursor was not one this API gave"},
        UNAUTHORIZED,
        INVALID_PARAMETERS,
        UNAVAILABLE,
    ),
)
async def list_reports(
    caller: Authenticated,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    status: ReportStatus | None = None,
) -> ReportPage:
    """The caller's reports, newest first; pass `nextCursor` back as `cursor` for more."""
    resources = caller.resources
    documents, next_cursor = await service.list_reports(
        resources=resources,
        owner_id=caller.owner,
        limit=limit,
        cursor=cursor,
        status=status,
    )
    items = [await service.presented(resources, document) for document in documents]
    return ReportPage.model_validate({"items": items, "nextCursor": next_cursor})


@router.get(
    "/v1/reports/{report_id}",
    response_model=ReportStatusRead,
    responses=READ_RESPONSES,
)
async def get_report(caller: Authenticated, report_id: str) -> JSONResponse:
    """The status document; `downloadUrl` is a fresh presigned URL once the report is done."""
    resources = caller.resources
    document = await service.read_status(
        resources=resources, owner_id=caller.owner, report_id=report_id
    )
    return JSONResponse(await service.presented(resources, document))


@router.delete(
    "/v1/reports/{report_id}",
    response_model=ReportStatusRead,
    responses=documented(
        {409: "`REPORT_NOT_CANCELLABLE`: the report is past cancelling"},
        UNAUTHORIZED,
        NOT_FOUND,
        UNAVAILABLE,
    ),
)
async def cancel_report(caller: Authenticated, report_id: str) -> JSONResponse:
    """Cancel a queued or running report, or delete a finished one's file; `409` otherwise."""
    resources = caller.resources
    document = await service.cancel_report(
        resources=resources, owner_id=caller.owner, report_id=report_id
    )
    return JSONResponse(await service.presented(resources, document))


@router.get(
    "/v1/reports/{report_id}/download",
    status_code=302,
    response_class=RedirectResponse,
    responses=documented(
        {
            409: "`REPORT_NOT_READY`: the report is not done (yet)",
            410: "`REPORT_EXPIRED`: the file was deleted after its retention",
        },
        UNAUTHORIZED,
        NOT_FOUND,
        UNAVAILABLE,
    ),
)
async def download_report(caller: Authenticated, report_id: str) -> RedirectResponse:
    """Redirect to a fresh presigned URL of the file; `409` until the report is done,
    `410` once its file has expired."""
    url = await service.download_url(
        resources=caller.resources, owner_id=caller.owner, report_id=report_id
    )
    return RedirectResponse(url, status_code=302)


@router.get("/v1/report-types")
async def report_types() -> ReportTypeList:
    """The catalog of report types, each with the JSON Schema of its parameters."""
    return ReportTypeList(
        items=[
            ReportTypeRead(
                name=info.name,
                title=info.title,
                description=info.description,
                formats=[f.value for f in info.formats],
                parametersSchema=info.parameters_schema,
            )
            for info in CATALOG.values()
        ]
    )
