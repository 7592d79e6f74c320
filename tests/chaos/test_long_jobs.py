"""Long renders: heartbeats, acks and other jobs keep flowing; the broker holds no delivery
unacked meanwhile (so its consumer timeout cannot cut the job off); a runaway job ends as
TIMEOUT at the per-job time limit."""

import asyncio
import subprocess
import time

import asyncpg
import httpx
import pytest

from relatoria_shared.domain.lanes import Lane
from relatoria_shared.messaging.topology import Topology
from tests.support.api import table_request
from tests.support.cluster import TERMINAL, Cluster, long_pdf, post, wait_processing, wait_status

pytestmark = pytest.mark.chaos


def unacked(queue: str) -> int:
    """Deliveries of `queue` the broker holds unacknowledged (rabbitmqctl, as root)."""
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "name", "messages_unacknowledged"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    for line in listed.splitlines():
        name, _, count = line.rpartition("\t")
        if name == queue:
            return int(count)
    raise AssertionError(f"{queue} not listed")


async def test_a_render_longer_than_the_lease_keeps_its_claim_and_others_flow(
    cluster: Cluster, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    cluster.start_worker()  # concurrency 2
    lease = cluster.settings.lease_seconds
    rid = await post(client, long_pdf(120000))  # ~15 s: outlasts the broker's stats lag
    await wait_processing(db, rid, attempt=1)
    began = time.monotonic()
    small = [
        await post(client, table_request("csv", [["x", 1, 1.0, True, None, None]]))
        for _ in range(5)
    ]
    for other in small:  # finished while the long render runs on the other slot
        assert (await wait_status(client, other, TERMINAL, seconds=20))["status"] == "done"
    # The broker's queue statistics lag by several seconds: wait for them to show no
    # unacked delivery while the long job is still rendering.
    queue = Topology(cluster.settings.amqp_namespace).work_queue(Lane.INTERACTIVE)
    while True:
        status = await db.fetchval("SELECT status FROM report_requests WHERE id = $1::uuid", rid)
        assert status == "processing", "the long job ended before the check could be made"
        if await asyncio.to_thread(unacked, queue) == 0:
            break
        await asyncio.sleep(0.5)
    done = await wait_status(client, rid, TERMINAL, seconds=120)
    took = time.monotonic() - began
    assert took > lease  # longer than the lease: only heartbeats kept it
    assert (done["status"], done["attempts"]) == ("done", 1)


async def test_a_runaway_job_ends_as_timeout(
    cluster: Cluster, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    cluster.start_worker(RELATORIA_JOB_TIMEOUT_SECONDS="0.5")
    rid = await post(client, long_pdf(30000))
    ended = await wait_status(client, rid, TERMINAL, seconds=30)
    assert (ended["status"], ended["errorCode"], ended["attempts"]) == ("error", "TIMEOUT", 1)
    assert ended["errorMessage"] == "the report took longer than the 0.5-second limit"
    assert cluster.s3_keys(rid) == []
