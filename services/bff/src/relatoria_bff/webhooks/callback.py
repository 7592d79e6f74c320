"""Which URLs webhooks may call, as the BFF checks them when they are given: an
endpoint's, or a request's `callbackUrl` (whose deliveries need the owner's secret)."""

from relatoria_bff.bootstrap import Resources
from relatoria_shared.domain.request_errors import SigningSecretMissing, WebhookUrlForbidden
from relatoria_shared.domain.webhook_urls import WebhookUrlRefused, checked_url


def allowed_url(resources: Resources, url: str, path: str) -> str:
    """`url` as it will be called, or `WebhookUrlForbidden` naming `path`."""
    try:
        return checked_url(url, resources.webhook_hosts)
    except WebhookUrlRefused as refused:
        raise WebhookUrlForbidden(str(refused), path=path) from None


async def checked_callback(resources: Resources, owner_id: str, url: str) -> str:
    """A request's `callbackUrl`, once allowed and signable (the owner has a secret)."""
    allowed = allowed_url(resources, url, "callbackUrl")
    if not await resources.webhooks.has_signing_secret(owner_id):
        raise SigningSecretMissing(
            "a callbackUrl is signed with your signing secret: create one first with "
            "POST /v1/webhooks/secret",
            path="callbackUrl",
        )
    return allowed
