"""The webhook outbox in PostgreSQL: a report's end records its deliveries in the same
transaction (rolled back with it), one per endpoint that wants the event and one for the
callback URL; nothing for other changes; a delivery is sent under a claim, so a duplicate
message cannot send it twice, nor before its retry is due."""

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from relatoria_shared.db.requests import PgRequestRepository
from relatoria_shared.db.webhooks import Outcome, PgDeliveryRepository, PgWebhookRegistry
from relatoria_shared.domain.webhooks import DeliveryStatus, WebhookEvent, new_signing_secret
from tests.support.requests import new_report, record

pytestmark = pytest.mark.integration


@pytest.fixture
async def empty(pool: asyncpg.Pool) -> asyncpg.Pool:
    await pool.execute(
        "TRUNCATE report_requests, report_owners, webhook_endpoints, webhook_deliveries, "
        "webhook_attempts, webhook_signing_secrets"
    )
    return pool


async def recorded(pool: asyncpg.Pool, report_id: uuid.UUID) -> list[tuple[str, str | None]]:
    rows = await pool.fetch(
        "SELECT event_type, url FROM webhook_deliveries WHERE request_id = $1 ORDER BY url",
        report_id,
    )
    return [(row["event_type"], row["url"]) for row in rows]


async def test_each_end_records_one_delivery_per_interested_endpoint_and_the_callback(
    empty: asyncpg.Pool,
) -> None:
    registry = PgWebhookRegistry(empty)
    every = "https://a.example/hook"
    failures = "https://b.example/hook"
    await registry.add_endpoint("ana", every, list(WebhookEvent), None, new_signing_secret())
    await registry.add_endpoint("ana", failures, [WebhookEvent.FAILED], None, "whsec_x")
    gone = await registry.add_endpoint("ana", "https://c.example/", list(WebhookEvent), None, "s")
    await registry.delete_endpoint("ana", gone.id)
    await registry.add_endpoint("bia", "https://d.example/", list(WebhookEvent), None, "s")
    callback = "https://cb.example/r"
    requests = PgRequestRepository(empty)
    report = await record(requests, dataclasses.replace(new_report("ana"), callback_url=callback))

    # Not an end: nothing recorded.
    await empty.execute("UPDATE report_requests SET status = 'processing' WHERE id = $1", report.id)
    assert await recorded(empty, report.id) == []
    await empty.execute("UPDATE report_requests SET status = 'error' WHERE id = $1", report.id)

    assert await recorded(empty, report.id) == [
        ("report.failed", every),
        ("report.failed", failures),
        ("report.failed", callback),
    ]
    await empty.execute("UPDATE report_requests SET status = 'error' WHERE id = $1", report.id)
    assert len(await recorded(empty, report.id)) == 3  # no change of status, no event


async def test_deliveries_are_rolled_back_with_the_change_that_recorded_them(
    empty: asyncpg.Pool,
) -> None:
    await PgWebhookRegistry(empty).add_endpoint(
        "ana", "https://a.example/", list(WebhookEvent), None, "s"
    )
    report = await record(PgRequestRepository(empty), new_report("ana"))
    async with empty.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute(
            "UPDATE report_requests SET status = 'cancelled' WHERE id = $1", report.id
        )
        assert await conn.fetchval("SELECT count(*) FROM webhook_deliveries") == 1
        await transaction.rollback()
    assert await recorded(empty, report.id) == []


async def test_a_delivery_is_claimed_once_and_not_before_its_retry_is_due(
    empty: asyncpg.Pool,
) -> None:
    await PgWebhookRegistry(empty).add_endpoint(
        "ana", "https://a.example/", list(WebhookEvent), None, "whsec_secret"
    )
    report = await record(PgRequestRepository(empty), new_report("ana"))
    await empty.execute("UPDATE report_requests SET status = 'cancelled' WHERE id = $1", report.id)
    deliveries = PgDeliveryRepository(empty)
    published: list[uuid.UUID] = []

    async def publish(delivery_id: uuid.UUID) -> None:
        published.append(delivery_id)

    assert await deliveries.relay(10, timedelta(minutes=5), publish) == 1
    assert await deliveries.relay(10, timedelta(minutes=5), publish) == 0  # marked
    (delivery_id,) = published
    hold = timedelta(seconds=30)

    claimed = await deliveries.claim(delivery_id, hold)
    assert claimed is not None
    assert (claimed.attempt, claimed.secret, claimed.report.id) == (1, "whsec_secret", report.id)
    assert await deliveries.claim(delivery_id, hold) is None  # being sent

    failed = Outcome(datetime.now(UTC), 12, 500, "HTTP 500")
    await deliveries.settle(claimed, failed, DeliveryStatus.PENDING, timedelta(minutes=1))
    assert await deliveries.claim(delivery_id, hold) is None  # its retry is not due

    await empty.execute("UPDATE webhook_deliveries SET next_attempt_at = now()")
    again = await deliveries.claim(delivery_id, hold)
    assert again is not None
    assert again.attempt == 2
    kept = await deliveries.fix_payload(delivery_id, '{"first":1}')
    assert await deliveries.fix_payload(delivery_id, '{"second":2}') == kept == '{"first":1}'
    # A stale claim's outcome (attempt 1) is not recorded over the current one's.
    await deliveries.settle(claimed, failed, DeliveryStatus.DEAD, None)
    status = await empty.fetchval("SELECT status FROM webhook_deliveries")
    assert status == "pending"
    await deliveries.settle(
        again, Outcome(datetime.now(UTC), 5, 204, None), DeliveryStatus.DELIVERED, None
    )

    (view,) = await PgWebhookRegistry(empty).deliveries(report.id)
    assert view.status is DeliveryStatus.DELIVERED
    assert [(a.attempt, a.status_code) for a in view.attempts] == [(1, 500), (2, 204)]
