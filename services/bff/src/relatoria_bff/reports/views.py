"""Routes of `/v1/reports` and `/v1/report-types`: translate HTTP, delegate to the service."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse

from relatoria_bff.body_budget import BodyBudget
from relatoria_bff.dependencies import Authenticated, Caller, current_caller
from relatoria_bff.documented_errors import (
    INVALID_PARAMETERS,
    NOT_FOUND,
    UNAUTHORIZED,
    UNAVAILABLE,
    documented,
)
from relatoria_bff.reports import create_input, service, waiting
from relatoria_bff.reports.schemas import (
    ReportAccepted,
    ReportCreate,
    ReportPage,
    ReportStatusRead,
    ReportTypeList,
    ReportTypeRead,
)
from relatoria_shared.catalog import CATALOG
from relatoria_shared.domain.status import ReportStatus
from relatoria_shared.domain.status_document import status_document
from relatoria_shared.logging_setup import bind_log_context
from relatoria_shared.settings import Settings

router = APIRouter(tags=["reports"])

WaitQuery = Annotated[
    int | None,
    Query(
        ge=0,
        description="Seconds to wait for the report (at most the server's cap, 25 by "
        "default); the same as `Prefer: wait=N`.",
    ),
]

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
        409: "`WEBHOOK_SECRET_MISSING`: a `callbackUrl` before `POST /v1/webhooks/secret`",
        422: "`VALIDATION_ERROR`, `IDEMPOTENCY_KEY_REUSED`, `WEBHOOK_URL_FORBIDDEN` and the "
        "catalog's codes, with the `path`",
        429: "`TOO_MANY_IN_FLIGHT`, `POST_RATE_EXCEEDED`: retry after `Retry-After`",
        503: "`SERVICE_UNAVAILABLE`, or `SERVER_BUSY` (other large bodies are being "
        "read): retry after `Retry-After`",
    },
    UNAUTHORIZED,
)
READ_RESPONSES = documented(UNAUTHORIZED, NOT_FOUND, UNAVAILABLE)


@router.post(
    "/v1/reports",
    status_code=201,
    response_model=ReportAccepted,
    openapi_extra=CREATE_DOCUMENTED,
    responses=CREATE_RESPONSES,
)
async def create_report(request: Request, wait: WaitQuery = None) -> JSONResponse:
    """Request a report. Answers at once, or, with `wait` (or `Prefer: wait=N`), once the
    report is finished if it finishes within that time: then with its whole status
    document, `downloadUrl` included. Watch `Location` for its status. `429` with
    `Retry-After` when the caller is over its limits (reports in flight, posts per second)."""
    caller = await current_caller(request)  # before a byte of the body is read
    resources = caller.resources
    submission = await _submitted(request, caller)
    record = submission.record
    bind_log_context(request_id=str(record.id))
    headers = {"Location": f"/v1/reports/{record.id}"}
    if submission.replayed:
        headers["Idempotent-Replayed"] = "true"
    document = status_document(record)
    seconds = _requested_wait(request, wait, resources.settings, headers)
    if seconds:
        document = await waiting.wait_until(resources, document, waiting.finished, seconds)
        if waiting.finished(document):
            return JSONResponse(
                await service.presented(resources, document, estimated=False),
                status_code=201,
                headers=headers,
            )
    # Answered as built: the route's model documents the shape, without re-validating it.
    accepted = {
        "requestId": str(record.id),
        "status": document.body["status"],
        "createdAt": record.created_at.isoformat(),
    }
    return JSONResponse(accepted, status_code=201, headers=headers)


async def _submitted(request: Request, caller: Caller) -> service.Submission:
    """The request read and recorded. The body budget is held meanwhile, and its parsed
    table lives no longer than this (a waiting POST does not keep it)."""
    key = create_input.idempotency_key(request.headers.get("idempotency-key"))
    budget: BodyBudget = request.app.state.body_budget
    size = create_input.expected_size(request, caller.resources.settings)
    async with budget.reserve(size):
        body = await create_input.report_create(request, size)
        return await service.submit_report(
            resources=caller.resources, owner_id=caller.owner, body=body, idempotency_key=key
        )


def _requested_wait(
    request: Request, wait: int | None, settings: Settings, headers: dict[str, str]
) -> int | None:
    """The seconds the request asked to wait, capped; a `Prefer: wait` honoured is
    acknowledged in `headers` (`Preference-Applied`, RFC 7240)."""
    prefer = request.headers.get("prefer")
    seconds = waiting.requested_wait(wait, prefer, settings.max_wait_seconds)
    if wait is None and seconds is not None:
        headers["Preference-Applied"] = f"wait={seconds}"
    headers["Vary"] = "Prefer"  # the answer may differ with it
    return seconds


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
    items = [
        await service.presented(resources, document, estimated=False) for document in documents
    ]
    return ReportPage.model_validate({"items": items, "nextCursor": next_cursor})


@router.get(
    "/v1/reports/{report_id}",
    response_model=ReportStatusRead,
    responses=READ_RESPONSES,
)
async def get_report(
    request: Request, caller: Authenticated, report_id: str, wait: WaitQuery = None
) -> JSONResponse:
    """The status document; `downloadUrl` is a fresh presigned URL once the report is done.
    With `wait` (or `Prefer: wait=N`), a long poll: answers once the document changes (a
    new state, more progress) or the seconds pass, at once if the report is finished."""
    resources = caller.resources
    document = await service.read_status(
        resources=resources, owner_id=caller.owner, report_id=report_id
    )
    headers: dict[str, str] = {}
    seconds = _requested_wait(request, wait, resources.settings, headers)
    if seconds:
        document = await waiting.wait_until(
            resources, document, waiting.changed_from(document), seconds
        )
    shown = await service.presented(resources, document, estimated=True)
    return JSONResponse(shown, headers=headers)


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
    return JSONResponse(await service.presented(resources, document, estimated=False))


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
