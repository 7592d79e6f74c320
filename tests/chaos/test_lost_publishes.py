"""Accepted requests are never lost between PostgreSQL and RabbitMQ: a message only wakes a
worker, and idle workers look for due work on their own, so what was committed but never
published, and what the broker lost, still run."""

import json
import uuid

import aio_pika
import asyncpg
import httpx
import pytest

from relatoria_shared.domain.lanes import Lane
from relatoria_shared.messaging.topology import Topology
from tests.support.api import COLUMNS, table_request
from tests.support.cluster import TERMINAL, Cluster, post, wait_status

pytestmark = pytest.mark.chaos


async def test_committed_but_never_published_request_completes(
    cluster: Cluster, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    # What a BFF that crashed between its commit and its publish leaves behind.
    rid = uuid.uuid4()
    parameters = {"columns": COLUMNS, "rows": [["x", 1, 1.5, True, "2026-01-01", None]]}
    await db.execute(
        "INSERT INTO report_requests (id, owner_id, report_type, format, title, parameters,"
        " max_attempts) VALUES ($1, 'chaos', 'table', 'csv', 'orphan', $2, 3)",
        rid,
        json.dumps(parameters),
    )
    cluster.start_worker()
    done = await wait_status(client, str(rid), TERMINAL, seconds=30)
    assert done["status"] == "done"
    assert cluster.s3_keys(str(rid)) == [f"reports/{rid}.csv"]


async def test_a_request_whose_message_the_broker_lost_still_runs(
    cluster: Cluster, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid = await post(client, table_request("csv", [["x", 1, 1.5, True, None, None]]))
    connection = await aio_pika.connect(cluster.settings.amqp_url.get_secret_value())
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(
            Topology(cluster.settings.amqp_namespace).work_queue(Lane.INTERACTIVE)
        )
        await queue.purge()  # the broker lost it
    cluster.start_worker()
    done = await wait_status(client, rid, TERMINAL, seconds=30)
    assert done["status"] == "done"
