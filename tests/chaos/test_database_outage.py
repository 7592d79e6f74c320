"""PostgreSQL unreachable for a while under a running worker: deliveries wait for it
instead of being requeued into the dead-letter queue, and everything completes once it is
back, each on its first attempt."""

import asyncio
import uuid

import aio_pika
import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from relatoria_shared.messaging.topology import Topology
from tests.support.api import table_request
from tests.support.cluster import TERMINAL, Cluster, post, wait_status
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.chaos


async def test_worker_rides_out_a_database_outage(
    cluster: Cluster, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    url = make_url(cluster.settings.database_url.get_secret_value())
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    try:
        through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        cluster.start_worker(RELATORIA_DATABASE_URL=through)
        proxy.refuse()  # PostgreSQL "down" for the worker (the BFF still reaches it)
        owner = f"pg-outage-{uuid.uuid4().hex[:6]}"
        body = table_request("csv", [["x", 1, 1.0, True, None, None]])
        ids = [await post(client, body, owner) for _ in range(5)]
        await asyncio.sleep(12)  # longer than the delivery limit's worth of quick requeues
        proxy.accept()
        for rid in ids:
            done = await wait_status(client, rid, TERMINAL, seconds=60, owner=owner)
            assert (done["status"], done["attempts"]) == ("done", 1)
    finally:
        proxy.stop()
    connection = await aio_pika.connect(cluster.settings.amqp_url.get_secret_value())
    async with connection:
        channel = await connection.channel()
        dead = await channel.declare_queue(
            Topology(cluster.settings.amqp_namespace).dead_queue, passive=True
        )
        assert dead.declaration_result.message_count == 0
