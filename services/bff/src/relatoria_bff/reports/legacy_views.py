"""The original contract, kept as aliases: `POST /generate` and `GET /status/{requestId}`."""

from typing import Any

from fastapi import APIRouter, Response

from relatoria_bff.auth import Owner
from relatoria_bff.dependencies import Deps
from relatoria_bff.reports import service
from relatoria_bff.reports.schemas import ReportAccepted, ReportCreate, ReportStatusRead
from relatoria_bff.reports.views import IdempotencyKey, accept

router = APIRouter(tags=["legacy"])


@router.post("/generate", status_code=201, response_model=ReportAccepted)
async def generate(
    resources: Deps,
    owner: Owner,
    body: ReportCreate,
    response: Response,
    key: IdempotencyKey = None,
) -> ReportAccepted:
    """Alias of `POST /v1/reports`."""
    return await accept(resources, owner, body, key, response)


@router.get("/status/{request_id}", response_model=ReportStatusRead)
async def status(resources: Deps, owner: Owner, request_id: str) -> dict[str, Any]:
    """Alias of `GET /v1/reports/{id}`."""
    return await service.read_status(resources=resources, owner_id=owner, report_id=request_id)
