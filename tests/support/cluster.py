"""A BFF and any number of workers as real processes, on a namespace of their own."""

import asyncio
import contextlib
import hashlib
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import boto3
import httpx
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from relatoria_shared.settings import Settings
from tests.support.api import bearer, table_request
from tests.support.cleanup import delete_topology
from tests.support.database import migrated_database
from tests.support.processes import RunningProcess, start, wait_for_log, wait_ready
from tests.support.services import free_port

TERMINAL = {"done", "error", "cancelled", "expired"}


@dataclass
class Cluster:
    """Processes sharing one AMQP namespace; workers come and go as a test decides."""

    settings: Settings
    env: dict[str, str]
    base_url: str
    logs: Path
    bff: RunningProcess
    workers: dict[str, RunningProcess] = field(default_factory=dict)
    _started: int = 0

    def start_worker(self, *, wait: bool = True, **overrides: str) -> str:
        """Start one more worker process (waiting until it consumes, unless told not to);
        returns its name (also its worker id)."""
        self._started += 1
        name = f"worker-{self._started}"
        env = self.env | {"RELATORIA_WORKER_ID": name} | overrides
        process = start("relatoria_worker.main", env, self.logs / f"{name}.log")
        if wait:
            wait_for_log(process, "worker consuming")
        self.workers[name] = process
        return name

    def kill(self, name: str) -> None:
        """SIGKILL a worker, as the OOM killer would."""
        self.workers.pop(name).kill()

    def stop_workers(self) -> None:
        """Stop every worker (SIGTERM)."""
        for process in self.workers.values():
            process.stop()
        self.workers.clear()

    def stop_all(self) -> None:
        """Stop every process of the cluster."""
        self.stop_workers()
        self.bff.stop()

    def admin(self, *args: str) -> str:
        """Run `relatoria-admin` against the cluster, as an operator would; its output."""
        result = subprocess.run(
            [sys.executable, "-m", "relatoria_worker.admin", *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return result.stdout

    def s3_keys(self, report_id: str) -> list[str]:
        """The objects stored for one request."""
        listed = self.s3().list_objects_v2(
            Bucket=self.settings.s3_bucket, Prefix=f"{self.settings.s3_key_prefix}{report_id}"
        )
        return [o["Key"] for o in listed.get("Contents", [])]

    def s3(self) -> Any:
        """A boto3 client on the cluster's object store."""
        return boto3.client(
            "s3",
            endpoint_url=self.settings.s3_endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name=self.settings.s3_region,
        )


def assert_only_the_recorded_file(cluster: Cluster, document: dict[str, Any]) -> None:
    """After a cleanup pass, the one object stored for a done report is the file it
    recorded, intact (attempts that were cut short may have left theirs until then)."""
    cluster.admin("cleanup")
    (key,) = cluster.s3_keys(document["requestId"])
    body = cluster.s3().get_object(Bucket=cluster.settings.s3_bucket, Key=key)["Body"].read()
    assert len(body) == document["result"]["sizeBytes"]
    assert hashlib.sha256(body).hexdigest() == document["result"]["sha256"]


def http_client(cluster: Cluster) -> httpx.AsyncClient:
    """A client for the cluster's BFF. Idle pooled connections expire before uvicorn's
    5-second keep-alive does, so a client that waited a while never reuses a connection
    the server is closing."""
    limits = httpx.Limits(keepalive_expiry=2)
    return httpx.AsyncClient(base_url=cluster.base_url, timeout=30, limits=limits)


def start_cluster(settings: Settings, env: dict[str, str], logs: Path) -> Cluster:
    """A BFF on a fresh namespace; no workers yet."""
    namespace = f"{settings.amqp_namespace}-{uuid.uuid4().hex[:6]}"
    port = free_port()
    env = env | {"RELATORIA_AMQP_NAMESPACE": namespace, "RELATORIA_BFF_PORT": str(port)}
    cluster_settings = settings.model_copy(update={"amqp_namespace": namespace})
    bff = start("relatoria_bff.main", env, logs / "bff.log")
    base_url = f"http://127.0.0.1:{port}"
    wait_ready(f"{base_url}/readyz", bff)
    return Cluster(settings=cluster_settings, env=env, base_url=base_url, logs=logs, bff=bff)


@contextlib.contextmanager
def isolated_cluster(settings: Settings, env: dict[str, str], logs: Path) -> Iterator[Cluster]:
    """A BFF on a fresh namespace and its own database, torn down afterwards. Its own
    database matters: every worker's sweeper scans the whole database, so a worker of
    another test would otherwise take over this cluster's jobs. `env` gives the settings
    of its processes (`settings_env` of `settings`, plus overrides)."""
    url = make_url(settings.database_url.get_secret_value())
    suffix = uuid.uuid4().hex[:6]
    name = f"{url.database}_{suffix}"
    # Its own key prefix too: a cleanup removes the files its database does not know.
    prefix = f"{settings.s3_key_prefix}{suffix}/"
    with migrated_database(url.set(database=name).render_as_string(hide_password=False)) as own:
        isolated = settings.model_copy(
            update={"database_url": SecretStr(own), "s3_key_prefix": prefix}
        )
        own_env = env | {"RELATORIA_DATABASE_URL": own, "RELATORIA_S3_KEY_PREFIX": prefix}
        running = start_cluster(isolated, own_env, logs)
        try:
            yield running
        finally:
            running.stop_all()
            asyncio.run(delete_topology(running.settings))


async def post(client: httpx.AsyncClient, body: dict[str, Any], owner: str = "chaos") -> str:
    """POST a report; its request id."""
    response = await client.post("/v1/reports", json=body, headers=bearer(owner))
    assert response.status_code == 201, response.text
    request_id: str = response.json()["requestId"]
    return request_id


async def status_of(
    client: httpx.AsyncClient, report_id: str, owner: str = "chaos"
) -> dict[str, Any]:
    """The status document."""
    response = await client.get(f"/v1/reports/{report_id}", headers=bearer(owner))
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


async def wait_status(
    client: httpx.AsyncClient,
    report_id: str,
    statuses: set[str],
    seconds: float = 60,
    owner: str = "chaos",
) -> dict[str, Any]:
    """Poll until the report's status is one of `statuses`."""
    deadline = time.monotonic() + seconds
    while True:
        document = await status_of(client, report_id, owner)
        if document["status"] in statuses:
            return document
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{report_id} still {document['status']} after {seconds}s: {document}"
            )
        await asyncio.sleep(0.05)


LONG_PDF_ENV = {
    "RELATORIA_MAX_ROWS": "60000",
    "RELATORIA_PDF_MAX_ROWS": "60000",
    "RELATORIA_MAX_BODY_BYTES": str(8 * 1024 * 1024),
}
"""Settings a cluster needs to accept a `long_pdf` of up to 60,000 rows."""


def long_pdf(rows: int = 15000) -> dict[str, Any]:
    """A PDF that takes the worker a second or two to render: long enough to be killed."""
    data = [[f"Linha {i} — ação", i, i * 1.5, i % 2 == 0, "2026-01-01", None] for i in range(rows)]
    return table_request("pdf", data, title="Relatório longo")


async def wait_processing(
    db: asyncpg.Connection, report_id: str, attempt: int, seconds: float = 30
) -> None:
    """Until the request is `processing` in its `attempt`-th claim."""
    deadline = time.monotonic() + seconds
    rid = uuid.UUID(report_id)
    while time.monotonic() < deadline:
        row = await db.fetchrow("SELECT status, attempts FROM report_requests WHERE id = $1", rid)
        if row and row["status"] == "processing" and row["attempts"] == attempt:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{report_id} never reached processing attempt {attempt}")


@dataclass(frozen=True)
class Burst:
    """What a burst with worker kills did."""

    ids: list[str]
    kills: int
    wall_seconds: float


async def burst_with_kills(
    cluster: Cluster,
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    *,
    owner: str,
    requests: int,
    kills: int,
    seed: int,
    seconds: float = 240,
) -> Burst:
    """POST `requests` small CSV reports, start 2 workers at once and, from the moment
    one consumes, every 0.3-1 s SIGKILL a worker in the middle of a job (starting a
    replacement each time) until `kills` kills have interrupted one or the burst is
    done; then wait until all are `done`. (Started one after the other, the first worker
    could drain a small burst alone before the second was up, and no kill would land.)"""
    rng = random.Random(seed)
    body = table_request("csv", [[f"r{i}", i, i / 7, True, "2026-03-01", None] for i in range(100)])
    gate = asyncio.Semaphore(25)

    async def one() -> str:
        async with gate:
            return await post(client, body, owner)

    started = time.monotonic()
    ids = list(await asyncio.gather(*(one() for _ in range(requests))))
    workers = [cluster.start_worker(wait=False), cluster.start_worker(wait=False)]
    deadline = time.monotonic() + seconds
    while not any("worker consuming" in cluster.workers[name].log() for name in workers):
        assert time.monotonic() < deadline, "no worker started consuming"
        exited = [n for n in workers if cluster.workers[n].process.poll() is not None]
        assert not exited, f"{exited} exited at start:\n{cluster.workers[exited[0]].log()[-3000:]}"
        await asyncio.sleep(0.02)
    landed = 0
    next_kill = time.monotonic() + rng.uniform(0.3, 1.0)
    while True:
        done = await db.fetchval(
            "SELECT count(*) FROM report_requests WHERE owner_id = $1 AND status = 'done'", owner
        )
        if done == requests:
            return Burst(ids=ids, kills=landed, wall_seconds=time.monotonic() - started)
        assert time.monotonic() < deadline, f"only {done} of {requests} done in {seconds}s"
        due = landed < kills and time.monotonic() >= next_kill
        if due and await _kill_one_mid_job(cluster, db, owner, workers, rng):
            landed += 1
            next_kill = time.monotonic() + rng.uniform(0.3, 1.0)
        await asyncio.sleep(0.05)


def finished_in_logs(cluster: Cluster) -> list[str]:
    """Request ids of every `job done` line the cluster's workers logged."""
    return [
        json.loads(line)["request_id"]
        for log in cluster.logs.glob("worker-*.log")
        for line in log.read_text().splitlines()
        if line.startswith("{") and '"event": "job done"' in line
    ]


async def _kill_one_mid_job(
    cluster: Cluster, db: asyncpg.Connection, owner: str, workers: list[str], rng: random.Random
) -> bool:
    """SIGKILL a worker holding a claim and start a replacement; True if its job was
    really interrupted (one that committed `done` just before the kill was not)."""
    rows = await db.fetch(
        "SELECT id, worker_id FROM report_requests WHERE owner_id = $1 AND status = 'processing'",
        owner,
    )
    held = [r for r in rows if r["worker_id"] in workers]
    if not held:
        return False
    target = rng.choice(held)
    name = target["worker_id"]
    process = cluster.workers[name].process
    workers.remove(name)
    cluster.kill(name)
    if process.poll() is None:
        raise RuntimeError(f"SIGKILL did not land: {name} is still running")
    workers.append(cluster.start_worker(wait=False))
    after = await db.fetchrow(
        "SELECT status, worker_id FROM report_requests WHERE id = $1", target["id"]
    )
    return bool(after["status"] == "processing" and after["worker_id"] == name)
