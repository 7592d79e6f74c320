"""Live status events (Server-Sent Events) from the real BFF and workers: a report's stream
shows queued, processing, progress and done in order and ends; a reconnect first gets the
current state, so an end missed while away is not lost; the stream of all of a caller's
reports carries only theirs; another owner's report is a 404; a stopping BFF ends its
streams with a `retry:` hint."""

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator

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
from tests.support.cluster_fixtures import client
from tests.support.sse import Event, data_events, events

__all__ = ["client"]

pytestmark = pytest.mark.e2e

ENV = LONG_PDF_ENV | {
    # Progress is announced with each heartbeat: several while a long PDF renders.
    "RELATORIA_HEARTBEAT_SECONDS": "0.3",
}
SMALL = table_request("csv", [["Ação", 1, 2.5, True, "2026-03-01", None]])


@pytest.fixture(scope="module")
def cluster(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A BFF on its own namespace and database; tests start their workers."""
    env = settings_env(settings) | ENV
    with isolated_cluster(settings, env, tmp_path_factory.mktemp("events")) as running:
        yield running


def owner() -> str:
    return f"events-{uuid.uuid4().hex[:8]}"


@contextlib.asynccontextmanager
async def stream(
    client: httpx.AsyncClient, path: str, who: str, last_event_id: str | None = None
) -> AsyncIterator[httpx.Response]:
    headers = bearer(who) | {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    async with client.stream("GET", path, headers=headers, timeout=60) as response:
        yield response


async def until_end(response: httpx.Response, seconds: float = 60) -> list[Event]:
    """Every data event until the server ends the stream."""
    async with asyncio.timeout(seconds):
        return [event async for event in data_events(response)]


async def test_a_report_stream_shows_each_state_and_progress_in_order_then_ends(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    who = owner()
    report_id = await post(client, long_pdf(30000), who)
    async with stream(client, f"/v1/reports/{report_id}/events", who) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-accel-buffering"] == "no"
        assert "no-cache" in response.headers["cache-control"]
        received = data_events(response)
        first = await anext(received)
        assert (first.kind, first.document["status"]) == ("status", "queued")
        assert first.retry is not None

        worker = cluster.start_worker()
        try:
            rest = [event async for event in received]
        finally:
            cluster.workers.pop(worker).stop()

    kinds = [(e.kind, e.document["status"]) for e in rest]
    assert kinds[0] == ("status", "processing"), kinds
    assert kinds[-1] == ("status", "done"), kinds
    progress = [e.document["progress"]["rowsWritten"] for e in rest if e.kind == "progress"]
    assert progress, kinds  # heartbeats every 0.3 s while 30,000 rows render
    assert progress == sorted(progress)
    versions = [e.document for e in [first, *rest]]
    assert [d["updatedAt"] for d in versions] == sorted(d["updatedAt"] for d in versions)
    done = rest[-1].document
    async with httpx.AsyncClient() as plain:
        file = await plain.get(done["downloadUrl"])
    assert file.status_code == 200
    assert file.content.startswith(b"%PDF")


async def test_a_reconnect_first_gets_the_state_it_missed(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    who = owner()
    report_id = await post(client, SMALL, who)
    path = f"/v1/reports/{report_id}/events"
    async with stream(client, path, who) as response:
        first = await anext(data_events(response))
    assert first.document["status"] == "queued"

    # Cancelled while nobody listened.
    cancelled = await client.delete(f"/v1/reports/{report_id}", headers=bearer(who))
    assert cancelled.status_code == 200

    async with stream(client, path, who, last_event_id=first.id) as response:
        received = await until_end(response)
    assert [e.document["status"] for e in received] == ["cancelled"]

    # Reconnecting once more, having had the end: 204, which tells EventSource to stop.
    async with stream(client, path, who, last_event_id=received[-1].id) as response:
        await response.aread()
    assert response.status_code == 204


async def test_the_stream_of_all_reports_carries_the_callers_only(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    ana, bruno = owner(), owner()
    hers = await post(client, SMALL, ana)
    his = await post(client, SMALL, bruno)
    async with stream(client, "/v1/reports/events", ana) as response:
        received = data_events(response)
        first = await anext(received)
        assert (first.document["requestId"], first.document["status"]) == (hers, "queued")

        await client.delete(f"/v1/reports/{his}", headers=bearer(bruno))
        cancelled_at = time.monotonic()
        await client.delete(f"/v1/reports/{hers}", headers=bearer(ana))
        async with asyncio.timeout(10):
            second = await anext(received)
        assert time.monotonic() - cancelled_at < 1.0  # the feed's, not a 2 s re-read
    assert (second.document["requestId"], second.document["status"]) == (hers, "cancelled")

    # Resumed from the first event: her report's end, which came meanwhile, comes first.
    async with stream(client, "/v1/reports/events", ana, last_event_id=first.id) as response:
        async with asyncio.timeout(10):
            resumed = await anext(data_events(response))
    assert (resumed.document["requestId"], resumed.document["status"]) == (hers, "cancelled")


async def test_another_owners_report_stream_is_not_found(client: httpx.AsyncClient) -> None:
    report_id = await post(client, SMALL, owner())
    async with stream(client, f"/v1/reports/{report_id}/events", owner()) as response:
        await response.aread()
    assert response.status_code == 404
    async with stream(client, f"/v1/reports/{uuid.uuid4()}/events", owner()) as response:
        await response.aread()
    assert response.status_code == 404
    unauthenticated = await client.get("/v1/reports/events")
    assert unauthenticated.status_code == 401


@pytest.fixture
def own_cluster(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    env = settings_env(settings) | ENV
    with isolated_cluster(settings, env, tmp_path_factory.mktemp("events-stop")) as running:
        yield running


async def test_a_stopping_bff_ends_its_streams_with_a_retry_hint(own_cluster: Cluster) -> None:
    who = owner()
    async with http_client(own_cluster) as client:
        report_id = await post(client, SMALL, who)
        async with stream(client, f"/v1/reports/{report_id}/events", who) as response:
            received = events(response)
            first = await anext(received)
            assert first.document["status"] == "queued"
            stopping = asyncio.get_running_loop().run_in_executor(None, own_cluster.bff.stop)
            started = time.monotonic()
            async with asyncio.timeout(15):
                rest = [event async for event in received]
            await stopping
    assert rest, "the stream ended without a word"
    assert rest[-1].retry is not None, rest
    assert any("shutting down" in comment for comment in rest[-1].comments), rest
    assert time.monotonic() - started < 10


async def test_a_queued_reports_position_moves_up_as_the_queue_drains(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    who = owner()
    # One report finished first: the lane has a recent throughput to estimate from.
    worker = cluster.start_worker()
    warm = await client.post("/v1/reports?wait=10", json=SMALL, headers=bearer(who))
    assert warm.json()["status"] == "done"
    cluster.workers.pop(worker).stop()

    # Each takes the one worker a few seconds: longer than a position is remembered (2 s).
    ids = [await post(client, long_pdf(25000), who) for _ in range(4)]
    last = f"/v1/reports/{ids[-1]}"
    head = (await client.get(f"/v1/reports/{ids[0]}", headers=bearer(who))).json()
    first_look = (await client.get(last, headers=bearer(who))).json()
    # Other tests' reports may be queued ahead in this cluster: count from the first.
    assert first_look["queue"]["position"] == head["queue"]["position"] + 3

    worker = cluster.start_worker(RELATORIA_WORKER_CONCURRENCY="1")
    positions: list[int] = []
    starts: list[str | None] = []
    try:
        async with asyncio.timeout(90):
            while True:
                document = (await client.get(last, headers=bearer(who))).json()
                if document["status"] != "queued":
                    break
                positions.append(document["queue"]["position"])
                starts.append(document["queue"]["estimatedStartAt"])
                await asyncio.sleep(0.3)
        listed = (await client.get("/v1/reports?limit=1", headers=bearer(who))).json()
        assert listed["items"][0]["queue"] is None  # lists carry no estimates
        finished = (await client.get(f"{last}?wait=30", headers=bearer(who))).json()
        while finished["status"] == "processing":
            finished = (await client.get(f"{last}?wait=30", headers=bearer(who))).json()
    finally:
        cluster.workers.pop(worker).stop()

    assert positions == sorted(positions, reverse=True), positions
    assert len(set(positions)) >= 2, positions
    assert positions[-1] <= 2, positions
    # Once the lane's rate was read after the first job finished (it is kept 5 s).
    assert starts[-1] is not None, starts
    assert finished["status"] == "done"
