"""Webhooks in PostgreSQL as the BFF sees them: the owners' endpoints and signing
secrets, and the record of a report's deliveries (`db.webhook_deliveries` sends them)."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import asyncpg

from relatoria_shared.domain.webhooks import DeliveryStatus, WebhookEvent


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


_ENDPOINT = "id, url, events, description, created_at"
DELIVERY_COLUMNS = (
    "id, event_type, url, endpoint_id, status, created_at, next_attempt_at, finished_at, last_error"
)


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
                f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE request_id = $1 "
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
        return [delivery_view(row, attempts.get(row["id"], [])) for row in rows]


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(
        id=row["id"],
        url=row["url"],
        events=[WebhookEvent(event) for event in row["events"]],
        description=row["description"],
        created_at=row["created_at"],
    )


def delivery_view(row: Any, attempts: list[AttemptView]) -> DeliveryView:
    """The `DeliveryView` of a row holding `DELIVERY_COLUMNS`."""
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
