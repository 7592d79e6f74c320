"""RabbitMQ unreachable: the BFF, which uses no broker, starts and accepts; a worker started
meanwhile waits for the broker."""

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
from tests.support.services import free_port
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.chaos


async def test_the_bff_starts_accepts_and_stays_ready_without_a_broker(
    cluster: Cluster,
) -> None:
    cluster.start_worker()
    # A broker URL nothing answers at: the BFF never needs it.
    nowhere = SecretStr(f"amqp://guest:guest@127.0.0.1:{free_port()}/")
    app = create_app(cluster.settings.model_copy(update={"amqp_url": nowhere}))
    owner = f"outage-{uuid.uuid4().hex[:6]}"
    body = table_request("csv", [["x", 1, 1.0, True, None, None]])
    accepted: list[str] = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bff") as bff:
            assert (await bff.get("/readyz")).status_code == 200
            for _ in range(5):
                response = await bff.post("/v1/reports", json=body, headers=bearer(owner))
                assert response.status_code == 201, response.text
                accepted.append(response.json()["requestId"])
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
