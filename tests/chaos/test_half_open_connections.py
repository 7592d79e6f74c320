"""PostgreSQL connections that go silent without closing (half-open: a lost route, a dead
NAT entry). Nothing fails on such a connection; it simply never answers. A worker must not
wait on it forever: a claim is abandoned at the database timeout and retried on a fresh
connection, and a job whose heartbeat goes unanswered stops before its lease could pass to
another worker, whose file is then the one recorded."""

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.support.api import table_request
from tests.support.cluster import Cluster, long_pdf, post, wait_processing, wait_status
from tests.support.polling import until
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.chaos

LEASE = 4.0


@pytest.fixture
def proxy(cluster: Cluster) -> Iterator[TcpProxy]:
    url = make_url(cluster.settings.database_url.get_secret_value())
    running = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    yield running
    running.stop()


def through(cluster: Cluster, proxy: TcpProxy) -> str:
    url = make_url(cluster.settings.database_url.get_secret_value())
    return url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


def logged(cluster: Cluster, worker: str, event: str, request_id: str) -> list[datetime]:
    """When `worker` logged `event` about `request_id`."""
    path = cluster.logs / f"{worker}.log"
    found = []
    for line in path.read_text().splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if entry.get("event") == event and entry.get("request_id") == request_id:
            found.append(datetime.fromisoformat(entry["timestamp"]))
    return found


async def test_claims_on_silent_connections_are_abandoned_and_retried_on_fresh_ones(
    cluster: Cluster, client: httpx.AsyncClient, proxy: TcpProxy
) -> None:
    cluster.start_worker(
        RELATORIA_DATABASE_URL=through(cluster, proxy), RELATORIA_DATABASE_TIMEOUT_SECONDS="2"
    )
    await asyncio.sleep(1.5)  # idle: its pooled and liveness connections are open
    assert proxy.stall() > 0
    owner = f"half-open-{uuid.uuid4().hex[:6]}"
    body = table_request("csv", [["x", 1, 1.0, True, None, None]])
    started = time.monotonic()
    ids = [await post(client, body, owner) for _ in range(3)]
    for rid in ids:
        done = await wait_status(client, rid, {"done", "error"}, seconds=30, owner=owner)
        assert (done["status"], done["attempts"]) == ("done", 1)
    # Bounded by the 2-second timeout per silent connection, not by TCP's minutes.
    assert time.monotonic() - started < 20


async def test_a_job_whose_heartbeat_goes_unanswered_stops_within_its_lease(
    cluster: Cluster, client: httpx.AsyncClient, db: asyncpg.Connection, proxy: TcpProxy
) -> None:
    leases = {"RELATORIA_LEASE_SECONDS": str(LEASE), "RELATORIA_HEARTBEAT_SECONDS": "1"}
    # The database timeout stays at its default (30 s): longer than the lease, so only the
    # lease can bound the heartbeat's wait.
    silent = cluster.start_worker(RELATORIA_DATABASE_URL=through(cluster, proxy), **leases)
    owner = f"half-open-{uuid.uuid4().hex[:6]}"
    rid = await post(client, long_pdf(60_000), owner)
    await wait_processing(db, rid, 1)
    # The claim is committed before its answer reaches the worker: stalled in between, the
    # worker would never start the job (its claim abandoned at the database timeout), and
    # there would be no heartbeat to observe. So the stall waits for the job to run.
    await until(lambda: bool(logged(cluster, silent, "job started", rid)), seconds=30)
    claimed_at = await db.fetchval(
        "SELECT started_at FROM report_requests WHERE id = $1", uuid.UUID(rid)
    )
    # A partition: the worker's connections go silent, and so would any new one.
    assert proxy.stall(new_connections_too=True) > 0
    cluster.start_worker(**leases)  # takes the job over once its lease has run out

    done = await wait_status(client, rid, {"done", "error"}, seconds=90, owner=owner)

    assert (done["status"], done["attempts"]) == ("done", 2)
    # The silent worker gave the job up before its lease (extended at most by its last
    # answered heartbeat, a second before the stall) could have passed to the other.
    stopped = logged(cluster, silent, "heartbeat failed", rid)
    assert stopped, "the silent worker never noticed"
    assert (stopped[0] - claimed_at).total_seconds() < LEASE + 1.5
    assert logged(cluster, silent, "job done", rid) == []
    # The only file is the one recorded, intact: the stale attempt uploaded nothing.
    (key,) = cluster.s3_keys(rid)
    stored = cluster.s3().get_object(Bucket=cluster.settings.s3_bucket, Key=key)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == done["result"]["sha256"]
    assert key.startswith(f"{cluster.settings.s3_key_prefix}{rid}/2-")
