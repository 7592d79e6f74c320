"""A request that always fails retryably: backoff levels, then error and a dead letter;
replay brings it back and, once the fault is gone, it completes."""

import asyncio
import uuid
from datetime import datetime

import aio_pika
import asyncpg
import httpx
import pytest

from relatoria_shared.messaging.contract import DeadLetter
from relatoria_shared.messaging.topology import Topology
from tests.support.api import table_request
from tests.support.cluster import TERMINAL, Cluster, post, status_of, wait_status

pytestmark = pytest.mark.chaos


async def dead_letters(cluster: Cluster) -> list[DeadLetter]:
    connection = await aio_pika.connect(cluster.settings.amqp_url.get_secret_value())
    letters = []
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(Topology(cluster.settings.amqp_namespace).dead_queue)
        while (message := await queue.get(no_ack=False, fail=False)) is not None:
            letters.append(DeadLetter.decode(message.body, dict(message.headers)))
    return letters  # unacked: back in the queue once the channel closes


async def test_retryable_failure_backs_off_dead_letters_and_replays(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    missing = f"{cluster.settings.s3_bucket}-later"
    # Every upload fails: STORAGE_ERROR. A retry is not claimable before its time, whether
    # its delay queue's wake-up or an idle worker's look brings a worker to it.
    cluster.start_worker(RELATORIA_S3_BUCKET=missing)
    rid = await post(client, table_request("csv", [["a", 1, 1.0, True, None, None]]))

    seen_waiting = None
    while True:
        document = await status_of(client, rid)
        if document["status"] == "queued" and document["attempts"] >= 1 and seen_waiting is None:
            seen_waiting = document
        if document["status"] in TERMINAL:
            break
        await asyncio.sleep(0.02)
    # While waiting for its next attempt it said so: still queued, error and time visible.
    assert seen_waiting is not None
    assert seen_waiting["errorCode"] == "STORAGE_ERROR"
    assert seen_waiting["nextAttemptAt"] is not None
    assert document["status"] == "error"
    assert document["attempts"] == cluster.settings.max_attempts
    assert document["errorCode"] == "STORAGE_ERROR"
    assert document["errorMessage"] == "the report file could not be stored"
    # It waited through every backoff level (0.3 s, then 0.6 s; jitter takes at most 20 %),
    # and not much longer.
    waited = datetime.fromisoformat(document["lastFailedAt"]) - datetime.fromisoformat(
        document["firstFailedAt"]
    )
    assert (0.3 + 0.6) * 0.8 <= waited.total_seconds() < 10

    (letter,) = [d for d in await dead_letters(cluster) if str(d.request_id) == rid]
    assert (letter.error_code, letter.attempts) == ("STORAGE_ERROR", cluster.settings.max_attempts)
    assert letter.first_failed_at
    assert letter.last_failed_at
    assert rid in cluster.admin("dead-letters", "list")

    cluster.s3().create_bucket(Bucket=missing)  # the fault is gone
    assert "replayed 1" in cluster.admin("dead-letters", "replay", "--id", rid)
    done = await wait_status(client, rid, TERMINAL, seconds=30)
    assert done["status"] == "done"
    assert done["attempts"] == 1  # a fresh round of attempts
    # Idempotent. (Not --all: the test database holds other tests' failed requests.)
    assert "replayed 0" in cluster.admin("dead-letters", "replay", "--id", rid)
    assert [d for d in await dead_letters(cluster) if str(d.request_id) == rid] == []


async def test_discarding_a_dead_letter_removes_it_and_leaves_the_request_failed(
    cluster: Cluster, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    cluster.start_worker(RELATORIA_S3_BUCKET=f"{cluster.settings.s3_bucket}-never")
    sentinel = f"sentinela-{uuid.uuid4().hex[:8]}"
    rid = await post(client, table_request("csv", [[sentinel, 1, 1.0, True, None, None]]))
    failed = await wait_status(client, rid, TERMINAL, seconds=30)
    assert failed["status"] == "error"
    assert [str(d.request_id) for d in await dead_letters(cluster)].count(rid) == 1
    cells = "SELECT parameters::text FROM report_requests WHERE id = $1"
    assert sentinel in await db.fetchval(cells, uuid.UUID(rid))  # kept for a replay

    assert "discarded 0" in cluster.admin("dead-letters", "discard", "--code", "TOO_LARGE")
    assert "discarded 1" in cluster.admin("dead-letters", "discard", "--code", "STORAGE_ERROR")
    assert [d for d in await dead_letters(cluster) if str(d.request_id) == rid] == []
    assert (await status_of(client, rid))["status"] == "error"  # as its owner sees it
    assert sentinel not in await db.fetchval(cells, uuid.UUID(rid))  # no replay will need it
    assert "discarded 0" in cluster.admin("dead-letters", "discard", "--id", rid)


async def test_a_poison_message_is_dead_lettered_not_looped(cluster: Cluster) -> None:
    cluster.start_worker()
    topology = Topology(cluster.settings.amqp_namespace)
    connection = await aio_pika.connect(cluster.settings.amqp_url.get_secret_value())
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(topology.work_exchange)
        await exchange.publish(aio_pika.Message(b"\x00 not a job"), routing_key="report")
        dead = await channel.get_queue(topology.dead_queue)
        for _ in range(100):
            declared = await channel.declare_queue(topology.dead_queue, passive=True)
            if declared.declaration_result.message_count >= 1:
                break
            await asyncio.sleep(0.05)
        message = await dead.get(no_ack=True, fail=True)
        assert message is not None
        assert message.body == b"\x00 not a job"
