"""Per-owner limits over HTTP: `429` with `Retry-After` and a stable code, nothing recorded,
other owners unaffected."""

import uuid

import asyncpg
import pytest

from relatoria_shared.settings import Settings
from tests.support.api import bearer, table_request
from tests.support.cleanup import delete_topology
from tests.support.in_process_bff import in_process_bff

pytestmark = pytest.mark.integration

ROW = ["Ana", 1, 2.5, True, "2026-01-31", None]


async def test_too_many_in_flight_is_a_429_with_retry_after(
    own_settings: Settings, pool: asyncpg.Pool
) -> None:
    capped = own_settings.model_copy(update={"owner_max_in_flight": 2})
    owner = f"capped-{uuid.uuid4().hex[:6]}"
    try:
        async with in_process_bff(capped) as client:
            answers = [
                await client.post(
                    "/v1/reports", json=table_request("csv", [ROW]), headers=bearer(owner)
                )
                for _ in range(3)
            ]
            other = await client.post(
                "/v1/reports", json=table_request("csv", [ROW]), headers=bearer(f"{owner}-2")
            )
    finally:
        await delete_topology(capped)
    assert [a.status_code for a in answers] == [201, 201, 429]
    refused = answers[-1]
    assert refused.json()["code"] == "TOO_MANY_REPORTS_IN_FLIGHT"
    assert int(refused.headers["Retry-After"]) >= 1
    assert other.status_code == 201
    recorded = await pool.fetchval(
        "SELECT count(*) FROM report_requests WHERE owner_id = $1", owner
    )
    assert recorded == 2


async def test_posting_too_fast_is_a_429_with_retry_after(
    own_settings: Settings, pool: asyncpg.Pool
) -> None:
    throttled = own_settings.model_copy(
        update={"owner_posts_per_second": 0.5, "owner_post_burst": 2}
    )
    owner = f"fast-{uuid.uuid4().hex[:6]}"
    try:
        async with in_process_bff(throttled) as client:
            answers = [
                await client.post(
                    "/v1/reports", json=table_request("csv", [ROW]), headers=bearer(owner)
                )
                for _ in range(3)
            ]
    finally:
        await delete_topology(throttled)
    assert [a.status_code for a in answers] == [201, 201, 429]
    assert answers[-1].json()["code"] == "POST_RATE_EXCEEDED"
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 2
    recorded = await pool.fetchval(
        "SELECT count(*) FROM report_requests WHERE owner_id = $1", owner
    )
    assert recorded == 2
