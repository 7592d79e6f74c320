"""What a webhook sends: the event and the report's status document, signed per the
Standard Webhooks specification (`webhook-id`, `webhook-timestamp`, `webhook-signature`).

The body is fixed at the first attempt and kept, so every retry sends the same bytes
under the same `webhook-id`; only the timestamp and the signature change per attempt.
"""

import json
from datetime import datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

from relatoria_shared.db.webhook_deliveries import ClaimedDelivery
from relatoria_shared.domain.status import ReportStatus
from relatoria_shared.domain.status_document import status_document
from relatoria_shared.domain.webhooks import webhook_id

Presigned = tuple[str, datetime]
"""A presigned download URL and when it stops working."""


def webhook_body(
    claimed: ClaimedDelivery, *, public_url: str, download: Presigned | None, now: datetime
) -> str:
    """The JSON body of `claimed`'s event: `{type, timestamp, data}`, `data` the report's
    status document as the API shows it, with links to the BFF and, once done, the
    presigned `download` URL (signed to outlive the retries)."""
    document = status_document(claimed.report)
    base = f"{public_url.rstrip('/')}/v1/reports/{claimed.report.id}"
    data: dict[str, Any] = dict(document.body)
    data["downloadUrl"] = download[0] if download else None
    data["downloadUrlExpiresAt"] = download[1].isoformat() if download else None
    data["links"] = {
        "status": base,
        "download": f"{base}/download" if document.status is ReportStatus.DONE else None,
    }
    event = {"type": claimed.event.value, "timestamp": now.isoformat(), "data": data}
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


def signed_headers(
    secret: str, claimed: ClaimedDelivery, body: str, now: datetime
) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt to send `body`."""
    message_id = webhook_id(claimed.id)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now, body),
    }
