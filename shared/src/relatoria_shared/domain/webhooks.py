"""Webhooks as the domain sees them: the events a report's end announces, the state of
one delivery, when a failed delivery is tried again, and signing secrets.

An event is recorded with the state change that causes it (an outbox; see migration
0007), once per endpoint that wants it and once for the request's own `callbackUrl`.
Each such delivery is tried until it is answered 2xx, or until a failure that no retry
can mend (another 4xx, a refused address), or until the retry horizon has passed: then it
is dead and waits for an operator's replay.
"""

import base64
import secrets
import uuid
from dataclasses import dataclass
from enum import StrEnum

from relatoria_shared.domain.status import ReportStatus

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
"""Standard Webhooks' prefix of a base64 signing secret."""
SECRET_BYTES = 32


class WebhookEvent(StrEnum):
    """What a webhook announces: a report's end."""

    DONE = "report.done"
    FAILED = "report.failed"
    CANCELLED = "report.cancelled"
    EXPIRED = "report.expired"


EVENT_OF_STATUS = {
    ReportStatus.DONE: WebhookEvent.DONE,
    ReportStatus.ERROR: WebhookEvent.FAILED,
    ReportStatus.CANCELLED: WebhookEvent.CANCELLED,
    ReportStatus.EXPIRED: WebhookEvent.EXPIRED,
}
"""The status a report enters, and the event entering it announces (the outbox trigger
of migration 0007 spells out the same mapping in SQL)."""


class DeliveryStatus(StrEnum):
    """Where one delivery of one event to one URL stands."""

    PENDING = "pending"  # to be tried (now, or after its backoff)
    DELIVERED = "delivered"  # answered 2xx
    DEAD = "dead"  # given up: replayable by an operator
    DROPPED = "dropped"  # its endpoint was deleted before it was delivered


def webhook_id(delivery_id: uuid.UUID) -> str:
    """The `webhook-id` of a delivery: the same on every attempt, so that receivers can
    tell a retry from a new event."""
    return f"msg_{delivery_id.hex}"


def new_signing_secret() -> str:
    """A fresh signing secret in the Standard Webhooks form (`whsec_` + base64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


@dataclass(frozen=True)
class WebhookSchedule:
    """Exponential backoff for deliveries, capped, tried over at least `horizon_seconds`.

    RabbitMQ does the waiting, as for jobs: one delay queue per distinct delay (`levels`).
    No jitter: deliveries to one receiver are spread by the events themselves.
    """

    base_seconds: float = 5.0
    factor: float = 5.0
    cap_seconds: float = 7_200.0
    horizon_seconds: float = 86_400.0

    def delay_after(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1-based)."""
        return round(min(self.cap_seconds, self.base_seconds * self.factor ** (attempt - 1)), 3)

    def next_delay(self, attempt: int, seconds_since_first: float) -> float | None:
        """The wait before the next attempt after attempt `attempt` failed, the first one
        `seconds_since_first` ago; None once the horizon has passed (give up)."""
        if seconds_since_first >= self.horizon_seconds:
            return None
        return self.delay_after(attempt)

    def levels(self) -> list[float]:
        """Every distinct delay a retry can wait: one delay queue each."""
        delays: list[float] = []
        attempt = 1
        while not delays or delays[-1] < self.cap_seconds:
            delay = self.delay_after(attempt)
            if delays and delay <= delays[-1]:  # factor 1: a single level
                break
            delays.append(delay)
            attempt += 1
        return delays
