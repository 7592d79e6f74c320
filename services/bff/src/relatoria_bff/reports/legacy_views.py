"""The original contract, kept as aliases: `POST /generate` and `GET /status/{requestId}`.

They are the very handlers of `/v1/reports`, registered under the old paths.
"""

from fastapi import APIRouter

from relatoria_bff.reports import views
from relatoria_bff.reports.schemas import ReportAccepted, ReportStatusRead

router = APIRouter(tags=["legacy"])
router.add_api_route(
    "/generate",
    views.create_report,
    methods=["POST"],
    status_code=201,
    response_model=ReportAccepted,
    summary="Alias of POST /v1/reports",
    responses=views.CREATE_RESPONSES,
    openapi_extra=views.CREATE_DOCUMENTED,
)
router.add_api_route(
    "/status/{report_id}",
    views.get_report,
    methods=["GET"],
    response_model=ReportStatusRead,
    summary="Alias of GET /v1/reports/{id}",
    responses=views.READ_RESPONSES,
)
