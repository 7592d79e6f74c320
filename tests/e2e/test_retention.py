"""Artifact retention end to end: reports finished by the real worker, expired by the
cleanup, then read through the real BFF (status, download, cancel), the Redis cache and
S3 (the moto server)."""

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from relatoria_shared.cache.status_cache import StatusCache, create_redis
from relatoria_shared.domain.errors import StorageError
from relatoria_shared.domain.status_document import status_document
from relatoria_shared.settings import Settings
from relatoria_shared.storage.object_store import ObjectStore
from relatoria_shared.transitions.announce import Announcer
from relatoria_shared.transitions.maintenance import MaintenanceTransitions
from relatoria_worker.admin.context import Admin, connect
from relatoria_worker.retention import ArtifactCleanup, CleanupResult
from tests.conftest import RunningSystem
from tests.support.api import bearer, table_request, wait_for
from tests.support.services import free_port

pytestmark = pytest.mark.e2e

USER = "e2e-retention"
ROWS = [["Ana", 1, 2.5, True, "2026-01-01", None], ["Bruno", 2, 3.5, False, None, None]]


@pytest.fixture
async def client(system: RunningSystem) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system.base_url, timeout=10) as client:
        yield client


@pytest.fixture
async def admin(settings: Settings) -> AsyncIterator[Admin]:
    async with connect(settings, broker=False, declare=False) as admin:
        yield admin


def cleanup_of(admin: Admin, **kwargs: Any) -> ArtifactCleanup:
    cache = kwargs.pop("cache", admin.connections.cache)
    announcer = Announcer(cache, admin.connections.messenger(), admin.metrics)
    return ArtifactCleanup(
        settings=admin.settings,
        transitions=MaintenanceTransitions(
            admin.repository, announcer, admin.settings.retry_policy, admin.settings.lease
        ),
        store=kwargs.pop("store", admin.connections.store),
        **kwargs,
    )


async def finished_reports(client: httpx.AsyncClient, count: int) -> list[dict[str, Any]]:
    headers = bearer(USER)
    ids = []
    for i in range(count):
        created = await client.post(
            "/v1/reports", json=table_request("csv", ROWS, f"Retenção {i}"), headers=headers
        )
        assert created.status_code == 201, created.text
        ids.append(created.json()["requestId"])
    documents = [await wait_for(client, rid, headers) for rid in ids]
    assert [d["status"] for d in documents] == ["done"] * count, documents
    return documents


async def expire(db: asyncpg.Connection, documents: list[dict[str, Any]]) -> None:
    """Make the reports' files due: their expiry a second ago."""
    await db.execute(
        "UPDATE report_requests SET expires_at = now() - interval '1 second' WHERE id = ANY($1)",
        [uuid.UUID(d["requestId"]) for d in documents],
    )


async def versions(db: asyncpg.Connection, documents: list[dict[str, Any]]) -> dict[str, int]:
    rows = await db.fetch(
        "SELECT id, version FROM report_requests WHERE id = ANY($1)",
        [uuid.UUID(d["requestId"]) for d in documents],
    )
    return {str(row["id"]): row["version"] for row in rows}


async def key_of(db: asyncpg.Connection, document: dict[str, Any]) -> str:
    """The key of the file the report recorded (kept on the row after it expires)."""
    key: str = await db.fetchval(
        "SELECT object_key FROM report_requests WHERE id = $1", uuid.UUID(document["requestId"])
    )
    return key


async def drain(admin: Admin) -> None:
    """Expire what earlier tests left due, so counts below are this test's."""
    await cleanup_of(admin).run_once()


async def test_a_done_report_says_when_its_file_expires(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    (done,) = await finished_reports(client, 1)
    finished = datetime.fromisoformat(done["finishedAt"])
    assert datetime.fromisoformat(done["expiresAt"]) == finished + settings.artifact_retention


async def test_cleanup_expires_due_reports_once_and_leaves_the_others(
    client: httpx.AsyncClient, admin: Admin, db: asyncpg.Connection, settings: Settings
) -> None:
    due, kept, unstamped = await finished_reports(client, 3)
    await drain(admin)
    await expire(db, [due])
    # Finished before expiry was stamped: due at finished_at + retention.
    await db.execute(
        "UPDATE report_requests SET expires_at = NULL, finished_at = now() - $2::interval "
        "WHERE id = $1",
        uuid.UUID(unstamped["requestId"]),
        settings.artifact_retention + timedelta(minutes=1),
    )
    before = await versions(db, [due, kept, unstamped])

    result = await cleanup_of(admin).run_once()

    assert (result.expired, result.failed) == (2, 0)
    headers = bearer(USER)
    for document in (due, unstamped):
        rid = document["requestId"]
        status = (await client.get(f"/v1/reports/{rid}", headers=headers)).json()
        assert status["status"] == "expired"
        assert status["downloadUrl"] is None
        assert status["downloadUrlExpiresAt"] is None
        assert status["result"]["fileName"] == document["result"]["fileName"]  # kept
        assert (await client.get(f"/status/{rid}", headers=headers)).json()["status"] == "expired"
        cached = await admin.connections.cache.get(uuid.UUID(rid))
        assert cached is not None
        # The row's newest version (stamping a missing expiry is a version too).
        assert (cached.body["status"], cached.version) == (
            "expired",
            (await versions(db, [document]))[rid],
        )
        assert cached.version > before[rid]
        download = await client.get(f"/v1/reports/{rid}/download", headers=headers)
        assert download.status_code == 410
        body = download.json()
        assert body["code"] == "REPORT_EXPIRED"
        assert {"message", "path"} <= body.keys()
        assert (
            await asyncio.to_thread(admin.connections.store.head, await key_of(db, document))
            is None
        )
        cancel = await client.delete(f"/v1/reports/{rid}", headers=headers)
        assert (cancel.status_code, cancel.json()["code"]) == (409, "REPORT_NOT_CANCELLABLE")
    row = await db.fetchrow(
        "SELECT expires_at, finished_at FROM report_requests WHERE id = $1",
        uuid.UUID(unstamped["requestId"]),
    )
    assert row["expires_at"] == row["finished_at"] + settings.artifact_retention

    # Not yet due: untouched, still downloadable.
    assert (await versions(db, [kept]))[kept["requestId"]] == before[kept["requestId"]]
    still = await client.get(f"/v1/reports/{kept['requestId']}/download", headers=headers)
    assert still.status_code == 302
    assert await asyncio.to_thread(admin.connections.store.head, await key_of(db, kept)) is not None

    # Again: nothing to do, nothing changed.
    after = await versions(db, [due, kept, unstamped])
    assert await cleanup_of(admin).run_once() == CleanupResult(
        expired=0,
        failed=0,
        batches=1,
        orphans_removed=0,
        orphans_left=0,
        parameters_deleted=0,
    )
    assert await versions(db, [due, kept, unstamped]) == after


async def test_concurrent_cleanups_expire_each_report_once(
    client: httpx.AsyncClient, admin: Admin, db: asyncpg.Connection, settings: Settings
) -> None:
    documents = await finished_reports(client, 5)
    await drain(admin)
    await expire(db, documents)
    before = await versions(db, documents)
    async with connect(settings, broker=False, declare=False) as other:
        # Small batches, so the two take turns over several batches each.
        first, second = await asyncio.gather(
            cleanup_of(admin, batch=2).run_once(), cleanup_of(other, batch=2).run_once()
        )
    assert first.expired + second.expired == len(documents)
    assert await versions(db, documents) == {rid: v + 1 for rid, v in before.items()}
    for document in documents:
        assert (
            await asyncio.to_thread(admin.connections.store.head, await key_of(db, document))
            is None
        )


class CrashAfterDeleting:
    """An ObjectStore that deletes the object, then dies before the row is marked."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.list_page = store.list_page

    def delete(self, key: str) -> None:
        self.store.delete(key)
        raise SystemError("killed between the delete and the commit")


class FailingStore:
    """An ObjectStore whose deletes fail as an S3 outage would."""

    def __init__(self, store: ObjectStore) -> None:
        self.list_page = store.list_page

    def delete(self, key: str) -> None:
        raise StorageError("the report file could not be deleted")


async def test_a_cleanup_killed_after_deleting_is_finished_by_the_next(
    client: httpx.AsyncClient, admin: Admin, db: asyncpg.Connection, settings: Settings
) -> None:
    (document,) = await finished_reports(client, 1)
    await drain(admin)
    await expire(db, [document])
    before = await versions(db, [document])

    failing = await cleanup_of(admin, store=FailingStore(admin.connections.store)).run_once()
    assert (failing.expired, failing.failed) == (0, 1)
    assert await versions(db, [document]) == before  # still done, the file still there
    assert (
        await asyncio.to_thread(admin.connections.store.head, await key_of(db, document))
        is not None
    )

    with pytest.raises(SystemError):
        await cleanup_of(admin, store=CrashAfterDeleting(admin.connections.store)).run_once()
    assert await versions(db, [document]) == before  # rolled back: still done
    assert await asyncio.to_thread(admin.connections.store.head, await key_of(db, document)) is None

    repaired = await cleanup_of(admin).run_once()  # the object is gone already: fine
    assert (repaired.expired, repaired.failed) == (1, 0)
    status = await client.get(f"/v1/reports/{document['requestId']}", headers=bearer(USER))
    assert status.json()["status"] == "expired"


class SlowDeletes:
    """An ObjectStore whose deletes wait until released (S3 answering slowly)."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.list_page = store.list_page
        self.deleting = threading.Event()
        self.release = threading.Event()

    def delete(self, key: str) -> None:
        self.deleting.set()
        self.release.wait(30)
        self.store.delete(key)


async def test_no_row_is_locked_while_s3_deletes(
    client: httpx.AsyncClient, admin: Admin, db: asyncpg.Connection
) -> None:
    (document,) = await finished_reports(client, 1)
    await drain(admin)
    await expire(db, [document])
    store = SlowDeletes(admin.connections.store)
    cleanup = asyncio.create_task(cleanup_of(admin, store=store).run_once())
    try:
        assert await asyncio.to_thread(store.deleting.wait, 30)
        # A cancel (or any writer) of that row is not held up by the slow delete.
        async with db.transaction():
            locked = await db.fetchval(
                "SELECT id FROM report_requests WHERE id = $1 FOR UPDATE NOWAIT",
                uuid.UUID(document["requestId"]),
            )
        assert str(locked) == document["requestId"]
    finally:
        store.release.set()
    result = await cleanup
    assert (result.expired, result.failed) == (1, 0)


class OneKeyRefused:
    """An ObjectStore that refuses to delete one key (a legal hold, a per-key denial)."""

    def __init__(self, store: ObjectStore, refused: str) -> None:
        self.store = store
        self.refused = refused
        self.list_page = store.list_page

    def delete(self, key: str) -> None:
        if key == self.refused:
            raise StorageError("the report file could not be deleted")
        self.store.delete(key)


async def test_a_file_that_cannot_be_deleted_does_not_hold_up_the_others(
    client: httpx.AsyncClient, admin: Admin, db: asyncpg.Connection, settings: Settings
) -> None:
    stuck, *others = await finished_reports(client, 3)
    await drain(admin)
    await expire(db, [stuck, *others])
    # The refused one is the oldest, so every pass meets it first.
    await db.execute(
        "UPDATE report_requests SET expires_at = now() - interval '1 day' WHERE id = $1",
        uuid.UUID(stuck["requestId"]),
    )
    store = OneKeyRefused(admin.connections.store, await key_of(db, stuck))

    result = await cleanup_of(admin, store=store, batch=2).run_once()

    assert (result.expired, result.failed) == (2, 1)
    headers = bearer(USER)
    for document, status in [(stuck, "done"), *((other, "expired") for other in others)]:
        current = await client.get(f"/v1/reports/{document['requestId']}", headers=headers)
        assert current.json()["status"] == status


async def test_a_stale_cached_done_never_outlives_its_expiry(
    client: httpx.AsyncClient, admin: Admin, db: asyncpg.Connection, settings: Settings
) -> None:
    (document,) = await finished_reports(client, 1)
    await drain(admin)
    rid = uuid.UUID(document["requestId"])
    # Due, and cached with that (now past) expiry, as a report finished long ago would be.
    await db.execute(
        "UPDATE report_requests SET expires_at = now() - interval '1 second', "
        "version = version + 1 WHERE id = $1",
        rid,
    )
    due = await admin.repository.get(rid)
    assert due is not None
    assert await admin.connections.cache.put(status_document(due))
    # Redis is down while the cleanup runs: its write of the expired document is lost.
    unreachable = create_redis(
        settings.model_copy(update={"redis_url": SecretStr(f"redis://127.0.0.1:{free_port()}/0")})
    )
    try:
        offline = StatusCache.from_settings(unreachable, settings)
        result = await cleanup_of(admin, cache=offline).run_once()
    finally:
        await unreachable.aclose()
    assert result.expired == 1
    cached = await admin.connections.cache.get(rid)
    assert cached is not None
    assert cached.body["status"] == "done"  # stale

    headers = bearer(USER)
    download = await client.get(f"/v1/reports/{rid}/download", headers=headers)
    assert (download.status_code, download.json()["code"]) == (410, "REPORT_EXPIRED")
    status = await client.get(f"/v1/reports/{rid}", headers=headers)
    assert status.json()["status"] == "expired"
