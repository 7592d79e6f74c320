"""DELETE /v1/reports/{id}: queued and running reports stop, finished ones lose their file."""

import asyncio

import asyncpg
import httpx
import pytest

from tests.support.api import bearer, table_request
from tests.support.cluster import Cluster, long_pdf, post, status_of, wait_processing, wait_status
from tests.support.processes import wait_for_log

pytestmark = pytest.mark.chaos
SMALL = table_request("csv", [["x", 1, 1.5, True, None, None]])


async def cancel(client: httpx.AsyncClient, rid: str) -> httpx.Response:
    return await client.delete(f"/v1/reports/{rid}", headers=bearer("chaos"))


async def test_cancel_a_queued_report(cluster: Cluster, client: httpx.AsyncClient) -> None:
    rid = await post(client, SMALL)  # no worker yet: it waits in the queue
    response = await cancel(client, rid)
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["errorCode"]) == ("cancelled", "CANCELLED")
    cluster.start_worker()
    await asyncio.sleep(1.5)
    assert (await status_of(client, rid))["status"] == "cancelled"
    assert cluster.s3_keys(rid) == []
    assert (await cancel(client, rid)).status_code == 200  # cancelling twice is harmless


async def test_cancel_a_running_report_stops_its_worker(
    cluster: Cluster, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    worker = cluster.start_worker()
    rid = await post(client, long_pdf(25000))
    await wait_processing(db, rid, attempt=1)
    assert (await cancel(client, rid)).status_code == 200
    await asyncio.to_thread(wait_for_log, cluster.workers[worker], "job cancelled by its owner", 30)
    assert (await status_of(client, rid))["status"] == "cancelled"
    assert cluster.s3_keys(rid) == []


async def test_cancel_a_finished_report_deletes_its_file(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    cluster.start_worker()
    rid = await post(client, SMALL)
    await wait_status(client, rid, {"done"})
    assert cluster.s3_keys(rid)
    response = await cancel(client, rid)
    assert response.status_code == 200
    assert response.json()["downloadUrl"] is None
    assert response.json()["result"] is None
    assert cluster.s3_keys(rid) == []
    download = await client.get(f"/v1/reports/{rid}/download", headers=bearer("chaos"))
    assert download.status_code == 409


async def test_a_failed_report_cannot_be_cancelled_and_strangers_get_404(
    cluster: Cluster, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid = await post(client, SMALL)
    await db.execute(
        "UPDATE report_requests SET status = 'error', error_code = 'RENDER_ERROR'"
        " WHERE id = $1::uuid",
        rid,
    )
    response = await cancel(client, rid)
    assert (response.status_code, response.json()["code"]) == (409, "REPORT_NOT_CANCELLABLE")
    stranger = await client.delete(f"/v1/reports/{rid}", headers=bearer("someone-else"))
    assert stranger.status_code == 404
