"""What the webhook routes do, free of HTTP: register, list and delete endpoints, set the
owner's signing secret, and show a report's deliveries."""

import uuid
from datetime import datetime

from relatoria_bff.bootstrap import Resources
from relatoria_bff.reports.service import read_status
from relatoria_bff.webhooks.callback import allowed_url
from relatoria_shared.db.webhook_endpoints import DeliveryView, Endpoint
from relatoria_shared.domain.request_errors import TooManyWebhooks, WebhookNotFound
from relatoria_shared.domain.webhooks import WebhookEvent, new_signing_secret


async def register(
    resources: Resources,
    owner_id: str,
    url: str,
    events: list[WebhookEvent],
    description: str | None,
) -> tuple[Endpoint, str]:
    """Register an endpoint with a fresh secret; the endpoint and its secret (shown once)."""
    allowed = allowed_url(resources, url, "url")
    limit = resources.settings.webhook_max_endpoints
    if len(await resources.webhooks.endpoints(owner_id)) >= limit:
        raise TooManyWebhooks(
            f"you have {limit} webhook endpoints, the most allowed; delete one first",
            limit=limit,
        )
    secret = new_signing_secret()
    chosen = list(dict.fromkeys(events)) or list(WebhookEvent)
    endpoint = await resources.webhooks.add_endpoint(owner_id, allowed, chosen, description, secret)
    return endpoint, secret


async def delete(resources: Resources, owner_id: str, endpoint_id: str) -> None:
    """Delete one of the owner's endpoints; its undelivered deliveries are dropped."""
    try:
        parsed = uuid.UUID(endpoint_id)
    except ValueError:
        raise WebhookNotFound from None
    if not await resources.webhooks.delete_endpoint(owner_id, parsed):
        raise WebhookNotFound


async def rotate_secret(resources: Resources, owner_id: str) -> tuple[str, datetime]:
    """A new signing secret for the owner's callback URLs (the old one stops signing)."""
    secret = new_signing_secret()
    return secret, await resources.webhooks.set_signing_secret(owner_id, secret)


async def deliveries(resources: Resources, owner_id: str, report_id: str) -> list[DeliveryView]:
    """The deliveries of one of the owner's reports."""
    document = await read_status(resources=resources, owner_id=owner_id, report_id=report_id)
    return await resources.webhooks.deliveries(document.request_id)
