"""Connections to PostgreSQL, RabbitMQ, Redis and S3 cut in the middle of a run: every
request still ends in a terminal state, and none is finished twice."""

import asyncio
import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from urllib.parse import urlparse

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.support.api import table_request
from tests.support.cluster import Cluster, post
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.chaos

REQUESTS = 60


@pytest.fixture
def proxies(cluster: Cluster) -> Iterator[dict[str, TcpProxy]]:
    settings = cluster.settings
    s3 = urlparse(settings.s3_endpoint_url)
    db = make_url(settings.database_url.get_secret_value())
    amqp = urlparse(settings.amqp_url.get_secret_value())
    redis = urlparse(settings.redis_url.get_secret_value())
    running = {
        "postgres": TcpProxy(db.host or "127.0.0.1", db.port or 5432).start(),
        "rabbitmq": TcpProxy(amqp.hostname or "127.0.0.1", amqp.port or 5672).start(),
        "redis": TcpProxy(redis.hostname or "127.0.0.1", redis.port or 6379).start(),
        "s3": TcpProxy(s3.hostname or "127.0.0.1", s3.port or 80).start(),
    }
    yield running
    for proxy in running.values():
        proxy.stop()


async def test_cut_connections_mid_run(
    cluster: Cluster,
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    proxies: dict[str, TcpProxy],
) -> None:
    settings = cluster.settings
    db_url = make_url(settings.database_url.get_secret_value()).set(
        host="127.0.0.1", port=proxies["postgres"].port
    )
    through_proxies = {
        "RELATORIA_DATABASE_URL": db_url.render_as_string(hide_password=False),
        "RELATORIA_AMQP_URL": f"amqp://guest:guest@127.0.0.1:{proxies['rabbitmq'].port}/",
        "RELATORIA_REDIS_URL": f"redis://127.0.0.1:{proxies['redis'].port}/0",
        "RELATORIA_S3_ENDPOINT_URL": f"http://127.0.0.1:{proxies['s3'].port}",
    }
    worker = cluster.start_worker(**through_proxies)
    owner = f"cuts-{uuid.uuid4().hex[:6]}"
    body = table_request("xlsx", [[f"r{i}", i, i / 3, False, None, None] for i in range(300)])
    ids = [await post(client, body, owner) for _ in range(REQUESTS)]
    cut = 0
    for _ in range(5):
        await asyncio.sleep(0.7)
        for proxy in proxies.values():
            cut += proxy.cut()
    assert cut > 0

    deadline = asyncio.get_running_loop().time() + 120
    while True:
        rows = await db.fetch("SELECT id, status FROM report_requests WHERE owner_id = $1", owner)
        statuses = Counter(r["status"] for r in rows)
        if statuses["done"] + statuses["error"] == REQUESTS:
            break
        assert asyncio.get_running_loop().time() < deadline, f"not terminal: {statuses}"
        await asyncio.sleep(0.3)

    assert statuses["done"] == REQUESTS, statuses  # retries absorb the cuts
    s3 = cluster.s3()
    recorded = await db.fetch(
        "SELECT id, object_key, sha256 FROM report_requests WHERE owner_id = $1", owner
    )
    for row in recorded:  # one object each, and it is the one recorded
        assert cluster.s3_keys(str(row["id"])) == [row["object_key"]]
        body = s3.get_object(Bucket=settings.s3_bucket, Key=row["object_key"])["Body"].read()
        assert hashlib.sha256(body).hexdigest() == row["sha256"]
    finished = Counter(
        json.loads(line)["request_id"]
        for line in cluster.workers[worker].log().splitlines()
        if line.startswith("{") and '"event": "job done"' in line
    )
    assert all(finished[rid] <= 1 for rid in ids)  # none finished twice
