"""RabbitMQ unreachable: the BFF keeps accepting, reconnects by itself, and every accepted
request completes (the sweeper publishes what the broker never confirmed)."""

import asyncio
import uuid
from urllib.parse import urlparse

import httpx
import pytest
from pydantic import SecretStr

from relatoria_bff.app import create_app
from tests.support.api import bearer, table_request
from tests.support.cluster import TERMINAL, Cluster, http_client, wait_status
from tests.support.processes import start, wait_for_log
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.chaos


async def test_bff_accepts_through_a_broker_outage_and_recovers(cluster: Cluster) -> None:
    cluster.start_worker()
    amqp = urlparse(cluster.settings.amqp_url.get_secret_value())
    proxy = TcpProxy(amqp.hostname or "127.0.0.1", amqp.port or 5672).start()
    bff_settings = cluster.settings.model_copy(
        update={
            "amqp_url": SecretStr(f"amqp://guest:guest@127.0.0.1:{proxy.port}/"),
            "publish_timeout_seconds": 1.0,
        }
    )
    app = create_app(bff_settings)
    owner = f"outage-{uuid.uuid4().hex[:6]}"
    body = table_request("csv", [["x", 1, 1.0, True, None, None]])
    accepted: list[str] = []
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bff") as bff:

                async def submit() -> None:
                    response = await bff.post("/v1/reports", json=body, headers=bearer(owner))
                    assert response.status_code == 201, response.text
                    accepted.append(response.json()["requestId"])

                await submit()
                proxy.cut()  # the broker connection drops under the BFF
                for _ in range(5):
                    await submit()  # still accepted, published or not
                await asyncio.sleep(6)  # the robust connection comes back by itself
                await submit()
                ready = await bff.get("/readyz")
                assert ready.json()["checks"]["rabbitmq"] == "ok"
    finally:
        proxy.stop()
    async with http_client(cluster) as client:
        for rid in accepted:
            done = await wait_status(client, rid, TERMINAL, seconds=30, owner=owner)
            assert done["status"] == "done"


async def test_a_worker_started_during_a_broker_outage_waits_for_it(cluster: Cluster) -> None:
    amqp = urlparse(cluster.settings.amqp_url.get_secret_value())
    proxy = TcpProxy(amqp.hostname or "127.0.0.1", amqp.port or 5672).start()
    proxy.refuse()
    env = cluster.env | {
        "RELATORIA_AMQP_URL": f"amqp://guest:guest@127.0.0.1:{proxy.port}/",
        "RELATORIA_WORKER_ID": "late-worker",
    }
    worker = start("relatoria_worker.main", env, cluster.logs / "late-worker.log")
    try:
        await asyncio.to_thread(wait_for_log, worker, "RabbitMQ unreachable; retrying", 20)
        assert worker.process.poll() is None  # waiting, not crashed
        proxy.accept()
        await asyncio.to_thread(wait_for_log, worker, "worker consuming", 30)
        async with http_client(cluster) as client:
            response = await client.post(
                "/v1/reports",
                json=table_request("csv", [["x", 1, 1.0, True, None, None]]),
                headers=bearer("chaos"),
            )
            done = await wait_status(client, response.json()["requestId"], TERMINAL, seconds=30)
        assert done["status"] == "done"
    finally:
        worker.stop()
        proxy.stop()
