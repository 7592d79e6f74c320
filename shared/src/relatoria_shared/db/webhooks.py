"""Webhooks in PostgreSQL: the owners' endpoints and signing secrets (the BFF), and the
outbox of deliveries (recorded by migration 0007's trigger with each report's end), which
the worker's relay hands to RabbitMQ and its sender works through.

A delivery is sent only under a claim (`sending_until`, its attempt counted), so a
duplicate message (a relay that crashed before marking what it published, a message
redelivered after a lost ack) cannot send it twice at once, nor before its retry is due.
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import asyncpg

from relatoria_shared.db.rows import qualified, record_of
from relatoria_shared.db.wake_channel import WAKE_CHANNEL, WEBHOOKS_WAKE
from relatoria_shared.domain.report import ReportRecord
from relatoria_shared.domain.webhooks import DeliveryStatus, WebhookEvent

MAX_ERROR = 500


@dataclass(frozen=True)
class Endpoint:
    """An owner's registered webhook endpoint (its secret is never read back)."""

    id: uuid.UUID
    url: str
    events: list[WebhookEvent]
    description: str | None
    created_at: datetime


@dataclass(frozen=True)
class AttemptView:
    """One try of a delivery, as the owner sees it."""

    attempt: int
    started_at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None


@dataclass(frozen=True)
class DeliveryView:
    """One delivery of one event to one URL, with its attempts."""

    id: uuid.UUID
    event: WebhookEvent
    url: str
    endpoint_id: uuid.UUID | None
    status: DeliveryStatus
    created_at: datetime
    next_attempt_at: datetime | None
    finished_at: datetime | None
    last_error: str | None
    attempts: list[AttemptView]


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery claimed for one attempt, with what sending it needs."""

    id: uuid.UUID
    event: WebhookEvent
    url: str
    endpoint_id: uuid.UUID | None  # None: the request's callback URL
    attempt: int
    created_at: datetime
    payload: str | None  # fixed at the first attempt
    secret: str | None  # None: its endpoint was deleted, or its owner has no secret
    report: ReportRecord


@dataclass(frozen=True)
class Outcome:
    """What an attempt ended in, to record."""

    started_at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None


class WebhookRegistry(Protocol):
    """What the BFF reads and writes of webhooks."""

    async def add_endpoint(
        self,
        owner_id: str,
        url: str,
        events: list[WebhookEvent],
        description: str | None,
        secret: str,
    ) -> Endpoint:
        """Register an endpoint whose deliveries are signed with `secret`."""
        ...

    async def endpoints(self, owner_id: str) -> list[Endpoint]:
        """The owner's endpoints, oldest first."""
        ...

    async def delete_endpoint(self, owner_id: str, endpoint_id: uuid.UUID) -> bool:
        """Delete the owner's endpoint and drop its undelivered deliveries; False if the
        owner has no such endpoint."""
        ...

    async def set_signing_secret(self, owner_id: str, secret: str) -> datetime:
        """Create or replace the owner's signing secret (for `callbackUrl` deliveries)."""
        ...

    async def has_signing_secret(self, owner_id: str) -> bool:
        """True if the owner has a signing secret."""
        ...

    async def deliveries(self, request_id: uuid.UUID) -> list[DeliveryView]:
        """The request's deliveries and their attempts, oldest first."""
        ...


class DeliveryRepository(Protocol):
    """What the worker's relay and sender read and write of deliveries."""

    async def relay(
        self, limit: int, stale_after: timedelta, publish: Callable[[uuid.UUID], Awaitable[None]]
    ) -> int:
        """`publish` the pending deliveries not yet handed to RabbitMQ, or due for longer
        than `stale_after` (their message lost), and mark them; how many."""
        ...

    async def claim(self, delivery_id: uuid.UUID, hold: timedelta) -> ClaimedDelivery | None:
        """Claim a pending, due delivery for one attempt held `hold`; None if there is
        none (delivered, dead, not due yet, or being sent)."""
        ...

    async def fix_payload(self, delivery_id: uuid.UUID, payload: str) -> str:
        """Keep `payload` as the delivery's body unless one was kept already; the kept one."""
        ...

    async def settle(
        self,
        claimed: ClaimedDelivery,
        outcome: Outcome,
        status: DeliveryStatus,
        retry_in: timedelta | None,
    ) -> None:
        """Record the attempt and move the delivery to `status` (pending: due again in
        `retry_in`)."""
        ...

    async def replay_dead(
        self, *, delivery_id: uuid.UUID | None = None, owner_id: str | None = None
    ) -> list[uuid.UUID]:
        """Make the chosen dead deliveries pending again, due now and not yet relayed;
        their ids."""
        ...

    async def dead(self, limit: int) -> list[DeliveryView]:
        """The most recently dead deliveries (without their attempts)."""
        ...


_ENDPOINT = "id, url, events, description, created_at"
_DELIVERY = (
    "id, event_type, url, endpoint_id, status, created_at, next_attempt_at, finished_at, last_error"
)
_RELAY = """
SELECT id FROM webhook_deliveries
 WHERE status = 'pending' AND next_attempt_at <= now()
   AND (published_at IS NULL OR next_attempt_at < now() - $2::interval)
 ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED
"""
_PUBLISHED = "UPDATE webhook_deliveries SET published_at = now() WHERE id = ANY($1)"
# The secret is read in the claim: an endpoint's, or for a callback its owner's signing
# secret (either may have changed since the event; the current one signs).
_CLAIM = f"""
UPDATE webhook_deliveries d SET attempts = d.attempts + 1,
  sending_until = now() + $2::interval
FROM report_requests r
WHERE d.id = $1 AND r.id = d.request_id AND d.status = 'pending'
  AND d.next_attempt_at <= now() + interval '1 second'
  AND (d.sending_until IS NULL OR d.sending_until < now())
RETURNING d.id AS delivery_id, d.event_type, d.url AS delivery_url, d.endpoint_id,
  d.attempts AS attempt,
  d.created_at AS delivery_created_at, d.payload,
  CASE WHEN d.endpoint_id IS NULL
    THEN (SELECT secret FROM webhook_signing_secrets s WHERE s.owner_id = d.owner_id)
    ELSE (SELECT secret FROM webhook_endpoints e WHERE e.id = d.endpoint_id
           AND e.deleted_at IS NULL) END AS secret,
  {qualified("r")}
"""
_FIX_PAYLOAD = """
UPDATE webhook_deliveries SET payload = coalesce(payload, $2) WHERE id = $1
RETURNING payload
"""
_SETTLE = """
WITH attempt AS (
  INSERT INTO webhook_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error)
  VALUES ($1, $2, $3, $4, $5, $6)
  ON CONFLICT DO NOTHING
)
UPDATE webhook_deliveries SET status = $7, last_error = $6, sending_until = NULL,
  next_attempt_at = CASE WHEN $7 = 'pending' THEN now() + $8::interval END,
  finished_at = CASE WHEN $7 = 'pending' THEN NULL ELSE now() END
WHERE id = $1 AND attempts = $2
"""
_REPLAY = """
UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(),
  published_at = NULL, sending_until = NULL, finished_at = NULL, created_at = now()
WHERE status = 'dead' AND ($1::uuid IS NULL OR id = $1) AND ($2::text IS NULL OR owner_id = $2)
RETURNING id
"""


class PgWebhookRegistry:
    """`WebhookRegistry` on PostgreSQL."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add_endpoint(
        self,
        owner_id: str,
        url: str,
        events: list[WebhookEvent],
        description: str | None,
        secret: str,
    ) -> Endpoint:
        """See `WebhookRegistry.add_endpoint`."""
        row = await self._pool.fetchrow(
            f"INSERT INTO webhook_endpoints (id, owner_id, url, secret, events, description) "
            f"VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_ENDPOINT}",
            uuid.uuid4(),
            owner_id,
            url,
            secret,
            [event.value for event in events],
            description,
        )
        return _endpoint(row)

    async def endpoints(self, owner_id: str) -> list[Endpoint]:
        """See `WebhookRegistry.endpoints`."""
        rows = await self._pool.fetch(
            f"SELECT {_ENDPOINT} FROM webhook_endpoints "
            "WHERE owner_id = $1 AND deleted_at IS NULL ORDER BY created_at, id",
            owner_id,
        )
        return [_endpoint(row) for row in rows]

    async def delete_endpoint(self, owner_id: str, endpoint_id: uuid.UUID) -> bool:
        """See `WebhookRegistry.delete_endpoint`."""
        async with self._pool.acquire() as conn, conn.transaction():
            deleted = await conn.fetchval(
                "UPDATE webhook_endpoints SET deleted_at = now() "
                "WHERE id = $1 AND owner_id = $2 AND deleted_at IS NULL RETURNING id",
                endpoint_id,
                owner_id,
            )
            if deleted is None:
                return False
            await conn.execute(
                "UPDATE webhook_deliveries SET status = 'dropped', finished_at = now() "
                "WHERE endpoint_id = $1 AND status = 'pending'",
                endpoint_id,
            )
        return True

    async def set_signing_secret(self, owner_id: str, secret: str) -> datetime:
        """See `WebhookRegistry.set_signing_secret`."""
        created: datetime = await self._pool.fetchval(
            "INSERT INTO webhook_signing_secrets (owner_id, secret) VALUES ($1, $2) "
            "ON CONFLICT (owner_id) DO UPDATE SET secret = $2, created_at = now() "
            "RETURNING created_at",
            owner_id,
            secret,
        )
        return created

    async def has_signing_secret(self, owner_id: str) -> bool:
        """See `WebhookRegistry.has_signing_secret`."""
        found = await self._pool.fetchval(
            "SELECT 1 FROM webhook_signing_secrets WHERE owner_id = $1", owner_id
        )
        return found is not None

    async def deliveries(self, request_id: uuid.UUID) -> list[DeliveryView]:
        """See `WebhookRegistry.deliveries`."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT {_DELIVERY} FROM webhook_deliveries WHERE request_id = $1 "
                "ORDER BY created_at, id",
                request_id,
            )
            tried = await conn.fetch(
                "SELECT delivery_id, attempt, started_at, duration_ms, status_code, error "
                "FROM webhook_attempts WHERE delivery_id = ANY($1) ORDER BY attempt",
                [row["id"] for row in rows],
            )
        attempts: dict[uuid.UUID, list[AttemptView]] = {}
        for row in tried:
            attempts.setdefault(row["delivery_id"], []).append(
                AttemptView(
                    attempt=row["attempt"],
                    started_at=row["started_at"],
                    duration_ms=row["duration_ms"],
                    status_code=row["status_code"],
                    error=row["error"],
                )
            )
        return [_delivery(row, attempts.get(row["id"], [])) for row in rows]


class PgDeliveryRepository:
    """`DeliveryRepository` on PostgreSQL."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def relay(
        self, limit: int, stale_after: timedelta, publish: Callable[[uuid.UUID], Awaitable[None]]
    ) -> int:
        """See `DeliveryRepository.relay`. Published before marked, in the transaction
        that locks them: a crash in between publishes them again (the claim makes the
        duplicate harmless), never loses one."""
        async with self._pool.acquire() as conn, conn.transaction():
            ids = [row["id"] for row in await conn.fetch(_RELAY, limit, stale_after)]
            for delivery_id in ids:
                await publish(delivery_id)
            if ids:
                await conn.execute(_PUBLISHED, ids)
        return len(ids)

    async def claim(self, delivery_id: uuid.UUID, hold: timedelta) -> ClaimedDelivery | None:
        """See `DeliveryRepository.claim`."""
        row = await self._pool.fetchrow(_CLAIM, delivery_id, hold)
        if row is None:
            return None
        return ClaimedDelivery(
            id=row["delivery_id"],
            event=WebhookEvent(row["event_type"]),
            url=row["delivery_url"],
            endpoint_id=row["endpoint_id"],
            attempt=row["attempt"],
            created_at=row["delivery_created_at"],
            payload=row["payload"],
            secret=row["secret"],
            report=record_of(row),
        )

    async def fix_payload(self, delivery_id: uuid.UUID, payload: str) -> str:
        """See `DeliveryRepository.fix_payload`."""
        kept: str = await self._pool.fetchval(_FIX_PAYLOAD, delivery_id, payload)
        return kept

    async def settle(
        self,
        claimed: ClaimedDelivery,
        outcome: Outcome,
        status: DeliveryStatus,
        retry_in: timedelta | None,
    ) -> None:
        """See `DeliveryRepository.settle`."""
        await self._pool.execute(
            _SETTLE,
            claimed.id,
            claimed.attempt,
            outcome.started_at,
            outcome.duration_ms,
            outcome.status_code,
            outcome.error[:MAX_ERROR] if outcome.error else None,
            status.value,
            retry_in or timedelta(0),
        )

    async def replay_dead(
        self, *, delivery_id: uuid.UUID | None = None, owner_id: str | None = None
    ) -> list[uuid.UUID]:
        """See `DeliveryRepository.replay_dead`."""
        rows = await self._pool.fetch(_REPLAY, delivery_id, owner_id)
        if rows:  # the workers' relays publish them at once
            await self._pool.execute("SELECT pg_notify($1, $2)", WAKE_CHANNEL, WEBHOOKS_WAKE)
        return [row["id"] for row in rows]

    async def dead(self, limit: int) -> list[DeliveryView]:
        """See `DeliveryRepository.dead`."""
        rows = await self._pool.fetch(
            f"SELECT {_DELIVERY} FROM webhook_deliveries WHERE status = 'dead' "
            "ORDER BY finished_at DESC LIMIT $1",
            limit,
        )
        return [_delivery(row, []) for row in rows]


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(
        id=row["id"],
        url=row["url"],
        events=[WebhookEvent(event) for event in row["events"]],
        description=row["description"],
        created_at=row["created_at"],
    )


def _delivery(row: Any, attempts: list[AttemptView]) -> DeliveryView:
    return DeliveryView(
        id=row["id"],
        event=WebhookEvent(row["event_type"]),
        url=row["url"],
        endpoint_id=row["endpoint_id"],
        status=DeliveryStatus(row["status"]),
        created_at=row["created_at"],
        next_attempt_at=row["next_attempt_at"] if row["status"] == "pending" else None,
        finished_at=row["finished_at"],
        last_error=row["last_error"],
        attempts=attempts,
    )
