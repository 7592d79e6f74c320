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
from relatoria_shared.db.webhook_deliveries import Outcome, PgDeliveryRepository
from relatoria_shared.db.webhook_endpoints import PgWebhookRegistry
from relatoria_shared.domain.status import ReportStatus
from relatoria_shared.domain.webhooks import (
    EVENT_OF_STATUS,
    DeliveryStatus,
    WebhookEvent,
    new_signing_secret,
)
from tests.support.requests import new_report, record

pytestmark = pytest.mark.integration

CANCEL = "UPDATE report_requests SET status = 'cancelled' WHERE id = $1"


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


@pytest.mark.parametrize(("status", "event"), list(EVENT_OF_STATUS.items()))
async def test_the_trigger_records_the_event_the_domain_names_for_each_end(
    empty: asyncpg.Pool, status: ReportStatus, event: WebhookEvent
) -> None:
    url = "https://a.example/"
    await PgWebhookRegistry(empty).add_endpoint("ana", url, [event], None, "s")
    report = await record(PgRequestRepository(empty), new_report("ana"))
    await empty.execute("UPDATE report_requests SET status = $2 WHERE id = $1", report.id, status)
    assert await recorded(empty, report.id) == [(event.value, url)]


async def test_deleting_an_endpoint_drops_what_it_had_not_been_delivered(
    empty: asyncpg.Pool,
) -> None:
    registry = PgWebhookRegistry(empty)
    endpoint = await registry.add_endpoint(
        "ana", "https://a.example/", list(WebhookEvent), None, "s"
    )
    report = await record(PgRequestRepository(empty), new_report("ana"))
    await empty.execute("UPDATE report_requests SET status = 'cancelled' WHERE id = $1", report.id)
    assert not await registry.delete_endpoint("bia", endpoint.id)  # not hers
    assert await registry.delete_endpoint("ana", endpoint.id)
    (view,) = await registry.deliveries(report.id)
    assert view.status is DeliveryStatus.DROPPED
    assert await registry.endpoints("ana") == []


async def test_the_relay_publishes_overdue_deliveries_again_once_and_never_loops(
    empty: asyncpg.Pool,
) -> None:
    await PgWebhookRegistry(empty).add_endpoint(
        "ana", "https://a.example/", list(WebhookEvent), None, "s"
    )
    requests = PgRequestRepository(empty)
    for _ in range(130):  # more than one relay batch
        report = await record(requests, new_report("ana"))
        await empty.execute(
            "UPDATE report_requests SET status = 'cancelled' WHERE id = $1", report.id
        )
    deliveries = PgDeliveryRepository(empty)
    stale = timedelta(minutes=5)
    first = await deliveries.relay(100, stale) + await deliveries.relay(100, stale)
    assert len(set(first)) == 130
    assert await deliveries.relay(100, stale) == []  # marked: not published again
    # Their messages lost, all overdue: each is published again, once.
    await empty.execute(
        "UPDATE webhook_deliveries SET published_at = now() - interval '10 minutes', "
        "next_attempt_at = now() - interval '10 minutes'"
    )
    sending = await deliveries.claim(first[0], timedelta(minutes=1))
    assert sending is not None
    again = await deliveries.relay(100, stale) + await deliveries.relay(100, stale)
    assert sorted(again) == sorted(set(first) - {first[0]})  # not the one being sent
    assert await deliveries.relay(100, stale) == []


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
    (delivery_id,) = await deliveries.relay(10, timedelta(minutes=5))
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
