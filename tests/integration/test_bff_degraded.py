"""The BFF when a dependency misbehaves: the broker's queues gone, Redis gone, a key raced."""

import asyncio
import uuid

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from relatoria_shared.db.pool import asyncpg_dsn
from relatoria_shared.settings import Settings
from tests.conftest import RunningSystem
from tests.support.api import bearer, table_request
from tests.support.cleanup import delete_topology
from tests.support.in_process_bff import in_process_bff
from tests.support.services import free_port

pytestmark = pytest.mark.integration

ROW = ["Ana", 1, 2.5, True, "2026-01-31", None]


async def rows_for(db: asyncpg.Connection, owner: str) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM report_requests WHERE owner_id = $1", owner
    )
    return count


async def test_without_the_brokers_queues_a_request_is_still_accepted_and_recorded(
    own_settings: Settings,
) -> None:
    # Accepting needs no broker: the wake-up is the recording statement's notification.
    # (A database of the module's own: no worker claims the request meanwhile.)
    owner = f"user-{uuid.uuid4().hex[:8]}"
    try:
        async with in_process_bff(own_settings) as client:
            await delete_topology(own_settings)
            response = await client.post(
                "/v1/reports", json=table_request("csv", [ROW]), headers=bearer(owner)
            )
        assert response.status_code == 201
        assert response.json()["status"] == "queued"
        db = await asyncpg.connect(asyncpg_dsn(own_settings.database_url.get_secret_value()))
        try:
            status = await db.fetchval(
                "SELECT status FROM report_requests WHERE id = $1",
                uuid.UUID(response.json()["requestId"]),
            )
        finally:
            await db.close()
        assert status == "queued"
    finally:
        await delete_topology(own_settings)


async def test_without_redis_status_comes_from_postgresql(own_settings: Settings) -> None:
    isolated = own_settings.model_copy(
        update={"redis_url": SecretStr(f"redis://127.0.0.1:{free_port()}/0")}
    )
    headers = bearer(f"user-{uuid.uuid4().hex[:8]}")
    try:
        async with in_process_bff(isolated) as client:
            created = await client.post(
                "/v1/reports", json=table_request("csv", [ROW]), headers=headers
            )
            assert created.status_code == 201
            rid = created.json()["requestId"]
            status = await client.get(f"/v1/reports/{rid}", headers=headers)
            assert status.status_code == 200
            assert status.json()["status"] == "queued"
            ready = await client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["checks"]["redis"].startswith("unavailable")
    finally:
        await delete_topology(isolated)


async def test_concurrent_requests_with_one_key_create_one_report(
    system: RunningSystem, db: asyncpg.Connection
) -> None:
    owner = f"user-{uuid.uuid4().hex[:8]}"
    headers = bearer(owner) | {"Idempotency-Key": f'"{uuid.uuid4()}"'}
    body = table_request("csv", [ROW])
    async with httpx.AsyncClient(base_url=system.base_url, timeout=10) as client:
        responses = await asyncio.gather(
            *(client.post("/v1/reports", json=body, headers=headers) for _ in range(20))
        )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["requestId"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 19
    assert await rows_for(db, owner) == 1


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (table_request("csv", [["nul\u0000", 1, 1, True, None, None]]), "parameters.rows[0][0]"),
        (table_request("csv", [ROW], title="bad\u0000title"), "title"),
    ],
)
async def test_text_the_database_cannot_store_is_a_422(
    system: RunningSystem, body: dict[str, object], path: str
) -> None:
    async with httpx.AsyncClient(base_url=system.base_url, timeout=10) as client:
        response = await client.post("/v1/reports", json=body, headers=bearer("text-checker"))
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["path"]) == ("INVALID_TEXT", path)
