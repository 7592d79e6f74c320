"""The outbox of webhook deliveries in PostgreSQL, as the worker works through it: recorded
by migration 0007's trigger with each report's end, handed to RabbitMQ by the relay, sent
by the sender, replayed by operators.

A delivery is sent only under a claim (`sending_until`, its attempt counted), so a
duplicate message (a relay that crashed before marking what it published, a message
redelivered after a lost ack) cannot send it twice at once, nor before its retry is due.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import asyncpg

from relatoria_shared.db.rows import qualified, record_of
from relatoria_shared.db.wake_channel import WAKE_CHANNEL, WEBHOOKS_WAKE
from relatoria_shared.db.webhook_endpoints import DELIVERY_COLUMNS, DeliveryView, delivery_view
from relatoria_shared.domain.report import ReportRecord
from relatoria_shared.domain.webhooks import DeliveryStatus, WebhookEvent

MAX_ERROR = 500


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery claimed for one attempt, with what sending it needs."""

    id: uuid.UUID
    event: WebhookEvent
    url: str
    endpoint_id: uuid.UUID | None  # None: the request's callback URL
    attempt: int
    round_started_at: datetime  # the retry horizon runs from here
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


class DeliveryRepository(Protocol):
    """What the worker's relay and sender read and write of deliveries."""

    async def relay(self, limit: int, stale_after: timedelta) -> list[uuid.UUID]:
        """Mark as published, and return, at most `limit` pending deliveries to publish:
        those not yet handed to RabbitMQ, or published and overdue for longer than
        `stale_after` (their message lost)."""
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
    ) -> bool:
        """Record the attempt and move the delivery to `status` (pending: due again in
        `retry_in`); False if the claim no longer held (nothing moved)."""
        ...

    async def replay_dead(
        self, *, delivery_id: uuid.UUID | None = None, owner_id: str | None = None
    ) -> list[uuid.UUID]:
        """Give the chosen dead deliveries a new round (pending, due now, not yet relayed,
        a fresh horizon; their earlier attempts stay on record); their ids."""
        ...

    async def dead(self, limit: int) -> list[DeliveryView]:
        """The most recently dead deliveries (without their attempts)."""
        ...


# Marked before they are published, in a statement of its own (no transaction held
# open across the publishing): a crash in between, or a failed publish, leaves them
# marked and unsent, and they are published again once `$2` has passed. So are pending
# deliveries overdue by `$2` whose retry message was lost; never one being sent.
_RELAY = """
UPDATE webhook_deliveries SET published_at = now()
WHERE id IN (
  SELECT id FROM webhook_deliveries
   WHERE status = 'pending' AND next_attempt_at <= now()
     AND (sending_until IS NULL OR sending_until < now())
     AND (published_at IS NULL
          OR (published_at < now() - $2::interval AND next_attempt_at < now() - $2::interval))
   ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING id
"""
# The secret is read in the claim: an endpoint's, or for a callback its owner's signing
# secret (either may have changed since the event; the current one signs). The retry
# horizon runs from the first attempt of the round (a replay starts a new round).
_CLAIM = f"""
UPDATE webhook_deliveries d SET attempts = d.attempts + 1,
  sending_until = now() + $2::interval, round_started_at = coalesce(d.round_started_at, now())
FROM report_requests r
WHERE d.id = $1 AND r.id = d.request_id AND d.status = 'pending'
  AND d.next_attempt_at <= now() + interval '1 second'
  AND (d.sending_until IS NULL OR d.sending_until < now())
RETURNING d.id AS delivery_id, d.event_type, d.url AS delivery_url, d.endpoint_id,
  d.attempts AS attempt, d.round_started_at, d.payload,
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
# Only the claim's own attempt, and only while the delivery is still pending (an
# endpoint deleted meanwhile dropped it). A retry is published by the caller right after:
# it counts as published now.
_SETTLE = """
WITH attempt AS (
  INSERT INTO webhook_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error)
  VALUES ($1, $2, $3, $4, $5, $6)
  ON CONFLICT DO NOTHING
)
UPDATE webhook_deliveries SET status = $7, last_error = $6, sending_until = NULL,
  next_attempt_at = CASE WHEN $7 = 'pending' THEN now() + $8::interval END,
  published_at = now(),
  finished_at = CASE WHEN $7 = 'pending' THEN NULL ELSE now() END
WHERE id = $1 AND attempts = $2 AND status = 'pending'
"""
# A new round: attempts keep counting (each stays on record), the horizon starts again.
_REPLAY = """
UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now(), published_at = NULL,
  sending_until = NULL, finished_at = NULL, round_started_at = NULL
WHERE status = 'dead' AND ($1::uuid IS NULL OR id = $1) AND ($2::text IS NULL OR owner_id = $2)
RETURNING id
"""


class PgDeliveryRepository:
    """`DeliveryRepository` on PostgreSQL."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def relay(self, limit: int, stale_after: timedelta) -> list[uuid.UUID]:
        """See `DeliveryRepository.relay`."""
        rows = await self._pool.fetch(_RELAY, limit, stale_after)
        return [row["id"] for row in rows]

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
            round_started_at=row["round_started_at"],
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
    ) -> bool:
        """See `DeliveryRepository.settle`."""
        result: str = await self._pool.execute(
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
        return result != "UPDATE 0"

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
            f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE status = 'dead' "
            "ORDER BY finished_at DESC LIMIT $1",
            limit,
        )
        return [delivery_view(row, []) for row in rows]
