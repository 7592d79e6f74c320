"""Synchronous mode and long polls (`?wait=N`, `Prefer: wait=N`) against the real BFF and
worker processes: a small report answered done, downloadable, by its POST; a long one
answered as it stands when the wait is over; a GET woken by the status feed when its
report changes; the feed down, waiters re-reading instead; a worker killed meanwhile, the
wait still ending with the status, never a 5xx."""

import asyncio
import hashlib
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse

import httpx
import pytest

from relatoria_shared.settings import Settings
from tests.conftest import settings_env
from tests.support.api import bearer, table_request
from tests.support.cluster import (
    LONG_PDF_ENV,
    Cluster,
    http_client,
    isolated_cluster,
    long_pdf,
    post,
)
from tests.support.cluster_fixtures import client, worker
from tests.support.processes import logged
from tests.support.tcp_proxy import TcpProxy

__all__ = ["client", "worker"]

pytestmark = pytest.mark.e2e

ENV = LONG_PDF_ENV | {
    "RELATORIA_MAX_WAIT_SECONDS": "6",
}
SMALL = table_request("csv", [["Ação", 1, 2.5, True, "2026-03-01", None]] * 3)


@pytest.fixture(scope="module")
def cluster(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A BFF (waits capped at 6 s) on its own namespace and database; tests start and
    stop its workers."""
    env = settings_env(settings) | ENV
    with isolated_cluster(settings, env, tmp_path_factory.mktemp("waiting")) as running:
        yield running


def owner() -> str:
    return f"wait-{uuid.uuid4().hex[:8]}"


async def test_a_post_that_waits_answers_done_with_a_working_download_url(
    client: httpx.AsyncClient, worker: str
) -> None:
    headers = bearer(owner())
    started = time.monotonic()
    response = await client.post("/v1/reports?wait=5", json=SMALL, headers=headers)
    elapsed = time.monotonic() - started

    assert response.status_code == 201, response.text
    document = response.json()
    assert document["status"] == "done", document
    assert response.headers["location"] == f"/v1/reports/{document['requestId']}"
    assert elapsed < 5
    async with httpx.AsyncClient() as plain:
        file = await plain.get(document["downloadUrl"])
    assert file.status_code == 200
    assert hashlib.sha256(file.content).hexdigest() == document["result"]["sha256"]
    assert "Ação".encode() in file.content


async def test_a_post_preferring_to_wait_for_a_long_report_answers_as_it_stands(
    client: httpx.AsyncClient, worker: str
) -> None:
    headers = bearer(owner()) | {"Prefer": "respond-async, wait=1"}
    started = time.monotonic()
    response = await client.post("/v1/reports", json=long_pdf(40000), headers=headers)
    elapsed = time.monotonic() - started

    assert response.status_code == 201, response.text
    assert set(response.json()) == {"requestId", "status", "createdAt"}
    assert response.json()["status"] in {"queued", "processing"}
    assert response.headers["preference-applied"] == "wait=1"
    assert 1 <= elapsed < 3


async def test_a_long_poll_is_woken_by_the_change_and_not_before(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    # No worker runs: the report stays queued until its owner cancels it.
    metrics = (await client.get("/metrics")).text
    assert "relatoria_bff_status_feed_up 1.0" in metrics
    who = owner()
    report_id = await post(client, SMALL, who)
    poll = asyncio.create_task(client.get(f"/v1/reports/{report_id}?wait=6", headers=bearer(who)))
    await asyncio.sleep(0.3)
    assert not poll.done()

    cancelled_at = time.monotonic()
    cancel = await client.delete(f"/v1/reports/{report_id}", headers=bearer(who))
    assert cancel.status_code == 200, cancel.text
    answer = await poll
    woken_after = time.monotonic() - cancelled_at

    assert answer.status_code == 200
    assert answer.json()["status"] == "cancelled"
    # Woken by the feed: without it, the first re-read would come 2 s into the wait.
    assert woken_after < 1.0, woken_after


async def test_a_long_poll_answers_at_once_for_a_finished_report_and_is_capped(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    who = owner()
    report_id = await post(client, SMALL, who)
    started = time.monotonic()
    queued = await client.get(f"/v1/reports/{report_id}?wait=600", headers=bearer(who))
    assert queued.status_code == 200
    assert queued.json()["status"] == "queued"
    assert 6 <= time.monotonic() - started < 8  # the server's cap, not the 600 asked

    await client.delete(f"/v1/reports/{report_id}", headers=bearer(who))
    started = time.monotonic()
    finished = await client.get(f"/v1/reports/{report_id}?wait=6", headers=bearer(who))
    assert finished.json()["status"] == "cancelled"
    assert time.monotonic() - started < 1


async def test_waits_that_make_no_sense_are_refused(client: httpx.AsyncClient) -> None:
    who = owner()
    report_id = await post(client, SMALL, who)
    for query in ("wait=-1", "wait=soon", "wait=1.5"):
        response = await client.get(f"/v1/reports/{report_id}?{query}", headers=bearer(who))
        assert response.status_code == 422, (query, response.text)
        assert response.json()["path"] == "wait"
    refused = await client.post("/v1/reports?wait=-1", json=SMALL, headers=bearer(who))
    assert refused.status_code == 422
    # An unreadable preference is ignored, as RFC 7240 asks: the POST answers at once.
    ignored = await client.post(
        "/v1/reports", json=SMALL, headers=bearer(who) | {"Prefer": "wait=soon"}
    )
    assert ignored.status_code == 201
    assert "preference-applied" not in ignored.headers
    await client.delete(f"/v1/reports/{report_id}", headers=bearer(who))
    await client.delete(f"/v1/reports/{ignored.json()['requestId']}", headers=bearer(who))


async def test_a_worker_killed_while_a_post_waits_ends_the_wait_with_the_status(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    name = cluster.start_worker()
    who = owner()
    posting = asyncio.create_task(
        client.post("/v1/reports?wait=4", json=long_pdf(40000), headers=bearer(who))
    )
    await logged(cluster.workers[name], "job started")
    assert not posting.done()  # the POST is still waiting when its worker dies
    cluster.kill(name)
    response = await posting

    assert response.status_code == 201, response.text
    assert response.json()["status"] in {"queued", "processing"}


@pytest.fixture
def redis_proxy(settings: Settings) -> Iterator[TcpProxy]:
    redis = urlparse(settings.redis_url.get_secret_value())
    proxy = TcpProxy(redis.hostname or "127.0.0.1", redis.port or 6379).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def proxied_cluster(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory, redis_proxy: TcpProxy
) -> Iterator[Cluster]:
    """A cluster whose BFF reaches Redis through `redis_proxy`."""
    env = settings_env(settings) | ENV
    env["RELATORIA_REDIS_URL"] = f"redis://127.0.0.1:{redis_proxy.port}/0"
    with isolated_cluster(settings, env, tmp_path_factory.mktemp("feed-down")) as running:
        yield running


async def test_waiters_re_read_while_the_feed_is_down_and_listen_again_after(
    proxied_cluster: Cluster, redis_proxy: TcpProxy
) -> None:
    cluster = proxied_cluster
    async with http_client(cluster) as client:
        await logged(cluster.bff, "status feed followed")
        redis_proxy.refuse()
        await logged(cluster.bff, "status feed unreachable")

        who = owner()
        report_id = await post(client, SMALL, who)
        poll = asyncio.create_task(
            client.get(f"/v1/reports/{report_id}?wait=6", headers=bearer(who))
        )
        await asyncio.sleep(0.5)
        cancelled_at = time.monotonic()
        cancel = await client.delete(f"/v1/reports/{report_id}", headers=bearer(who))
        assert cancel.status_code == 200, cancel.text
        answer = await poll
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "cancelled"
        assert time.monotonic() - cancelled_at < 3.5  # a re-read every 2 s

        redis_proxy.accept()
        await logged(cluster.bff, "status feed followed", times=2)
        again = await post(client, SMALL, who)
        poll = asyncio.create_task(client.get(f"/v1/reports/{again}?wait=6", headers=bearer(who)))
        await asyncio.sleep(0.5)
        cancelled_at = time.monotonic()
        await client.delete(f"/v1/reports/{again}", headers=bearer(who))
        assert (await poll).json()["status"] == "cancelled"
        assert time.monotonic() - cancelled_at < 1.0
