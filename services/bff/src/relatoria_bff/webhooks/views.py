"""Routes of `/v1/webhooks` and a report's deliveries: translate HTTP, delegate to the
service."""

from datetime import datetime

from fastapi import APIRouter, Response

from relatoria_bff.dependencies import Authenticated
from relatoria_bff.documented_errors import NOT_FOUND, UNAUTHORIZED, UNAVAILABLE, documented
from relatoria_bff.webhooks import service
from relatoria_bff.webhooks.schemas import (
    AttemptRead,
    DeliveryList,
    DeliveryRead,
    SigningSecret,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookRead,
)
from relatoria_shared.db.webhook_endpoints import DeliveryView, Endpoint
from relatoria_shared.domain.webhooks import webhook_id

router = APIRouter(tags=["webhooks"])

FORBIDDEN_URL = {
    400: "`INVALID_JSON`: the body is not JSON",
    422: "`VALIDATION_ERROR`, or `WEBHOOK_URL_FORBIDDEN`: not https, or a private, "
    "loopback or link-local address",
}


@router.post(
    "/v1/webhooks",
    status_code=201,
    response_model=WebhookCreated,
    responses=documented(
        FORBIDDEN_URL,
        {409: "`TOO_MANY_WEBHOOKS`: the owner has as many endpoints as allowed"},
        UNAUTHORIZED,
        UNAVAILABLE,
    ),
)
async def create_webhook(caller: Authenticated, body: WebhookCreate) -> WebhookCreated:
    """Register an endpoint for your reports' events. Its signing secret is in this answer
    only: store it to verify deliveries (Standard Webhooks)."""
    endpoint, secret = await service.register(
        caller.resources, caller.owner, body.url, body.events, body.description
    )
    return WebhookCreated(**_read(endpoint).model_dump(), secret=secret)


@router.get("/v1/webhooks", responses=documented(UNAUTHORIZED, UNAVAILABLE))
async def list_webhooks(caller: Authenticated) -> WebhookList:
    """Your endpoints, oldest first (without their secrets)."""
    endpoints = await caller.resources.webhooks.endpoints(caller.owner)
    return WebhookList(items=[_read(endpoint) for endpoint in endpoints])


@router.delete(
    "/v1/webhooks/{webhook_id}",
    status_code=204,
    responses=documented(
        {404: "`NOT_FOUND`: no such endpoint of the caller's"}, UNAUTHORIZED, UNAVAILABLE
    ),
)
async def delete_webhook(caller: Authenticated, webhook_id: str) -> Response:
    """Delete an endpoint; what it had not been delivered yet is dropped."""
    await service.delete(caller.resources, caller.owner, webhook_id)
    return Response(status_code=204)


@router.post(
    "/v1/webhooks/secret",
    status_code=201,
    responses=documented(UNAUTHORIZED, UNAVAILABLE),
)
async def rotate_signing_secret(caller: Authenticated) -> SigningSecret:
    """Create, or replace, the secret that signs deliveries to your requests'
    `callbackUrl`. It is in this answer only; the one it replaces stops signing at once."""
    secret, created_at = await service.rotate_secret(caller.resources, caller.owner)
    return SigningSecret(secret=secret, createdAt=created_at.isoformat())


@router.get(
    "/v1/reports/{report_id}/deliveries",
    responses=documented(UNAUTHORIZED, NOT_FOUND, UNAVAILABLE),
)
async def report_deliveries(caller: Authenticated, report_id: str) -> DeliveryList:
    """The webhook deliveries of a report's events, with each attempt's outcome."""
    views = await service.deliveries(caller.resources, caller.owner, report_id)
    return DeliveryList(items=[_delivery(view) for view in views])


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _read(endpoint: Endpoint) -> WebhookRead:
    return WebhookRead(
        id=str(endpoint.id),
        url=endpoint.url,
        events=endpoint.events,
        description=endpoint.description,
        createdAt=endpoint.created_at.isoformat(),
    )


def _delivery(view: DeliveryView) -> DeliveryRead:
    return DeliveryRead(
        webhookId=webhook_id(view.id),
        event=view.event,
        url=view.url,
        endpointId=str(view.endpoint_id) if view.endpoint_id else None,
        status=view.status.value,
        createdAt=view.created_at.isoformat(),
        nextAttemptAt=_iso(view.next_attempt_at),
        finishedAt=_iso(view.finished_at),
        lastError=view.last_error,
        attempts=[
            AttemptRead(
                attempt=a.attempt,
                startedAt=a.started_at.isoformat(),
                durationMs=a.duration_ms,
                statusCode=a.status_code,
                error=a.error,
            )
            for a in view.attempts
        ],
    )
