"""Inline data does not outlive its use: once a report is done or cancelled its cells are
deleted from PostgreSQL, and what its owner sees (status, listing, download) is unchanged.
Through the real BFF and worker, PostgreSQL, Redis, RabbitMQ and S3 (moto)."""

import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from tests.conftest import RunningSystem
from tests.support.api import bearer, table_request, wait_for

pytestmark = pytest.mark.e2e

USER = "e2e-inline-data"


@pytest.fixture
async def client(system: RunningSystem) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system.base_url, timeout=10) as client:
        yield client


async def stored_parameters(db: asyncpg.Connection, report_id: str) -> asyncpg.Record:
    row: asyncpg.Record = await db.fetchrow(
        "SELECT parameters::text AS cells, parameters_deleted_at FROM report_requests "
        "WHERE id = $1",
        uuid.UUID(report_id),
    )
    return row


async def test_a_done_reports_cells_are_deleted_and_it_still_reads_lists_and_downloads(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    sentinel = f"sentinela-{uuid.uuid4().hex[:8]}"
    rows = [[sentinel, 1, 2.5, True, "2026-01-01", None], ["Bruno", 2, 3.5, False, None, None]]
    headers = bearer(USER)
    created = await client.post(
        "/v1/reports", json=table_request("csv", rows, "Dados efêmeros"), headers=headers
    )
    assert created.status_code == 201, created.text
    rid = created.json()["requestId"]
    queued = await stored_parameters(db, rid)
    assert sentinel in queued["cells"]  # kept while a worker may need it

    done = await wait_for(client, rid, headers)

    assert done["status"] == "done", done
    row = await stored_parameters(db, rid)
    assert sentinel not in row["cells"]
    assert row["cells"] == "{}"
    assert row["parameters_deleted_at"] is not None
    # What the owner sees is unchanged: the status (with its parameter summary), the
    # listing, the file itself.
    status = (await client.get(f"/v1/reports/{rid}", headers=headers)).json()
    assert status["status"] == "done"
    assert status["parameters"]["rowCount"] == 2
    assert status["parameters"]["columns"][0]["key"] == "name"
    listed = (await client.get("/v1/reports", headers=headers)).json()
    assert rid in [item["requestId"] for item in listed["items"]]
    download = await client.get(f"/v1/reports/{rid}/download", headers=headers)
    assert download.status_code == 302
    async with httpx.AsyncClient(timeout=10) as plain:
        file = await plain.get(download.headers["location"])
    assert file.status_code == 200
    assert sentinel in file.content.decode("utf-8-sig")


async def test_a_cancelled_reports_cells_are_deleted(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    sentinel = f"sentinela-{uuid.uuid4().hex[:8]}"
    headers = bearer(USER)
    created = await client.post(
        "/v1/reports",
        json=table_request("csv", [[sentinel, 1, 1.0, True, None, None]]),
        headers=headers,
    )
    rid = created.json()["requestId"]
    cancelled = await client.delete(f"/v1/reports/{rid}", headers=headers)
    assert cancelled.status_code == 200, cancelled.text  # queued, processing or done
    row = await stored_parameters(db, rid)
    assert sentinel not in row["cells"]
    assert row["parameters_deleted_at"] is not None
