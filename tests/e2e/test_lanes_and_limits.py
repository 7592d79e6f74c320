"""End to end, on a cluster of its own: the two lanes, progress, the PDF row cap and
data-source failures, with workers configured per test."""

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from relatoria_shared.settings import Settings
from tests.conftest import settings_env
from tests.support.api import table_request
from tests.support.cluster import Cluster, isolated_cluster, post, wait_status
from tests.support.cluster_fixtures import client, db

__all__ = ["client", "db"]  # fixtures over this module's cluster

pytestmark = pytest.mark.e2e

YEAR = {"startDate": "2025-07-01", "endDate": "2026-06-30"}
# One row per fetch: a 3,000-row export then takes about a second, long enough to watch.
SLOW_SOURCE = {"RELATORIA_REPORTING_FETCH_ROWS": "1"}


@pytest.fixture(scope="module")
def cluster(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with isolated_cluster(
        settings, settings_env(settings), tmp_path_factory.mktemp("lanes")
    ) as running:
        yield running


@pytest.fixture(autouse=True)
def own_workers(cluster: Cluster) -> Iterator[None]:
    """Each test starts the workers it needs; none outlives it."""
    yield
    cluster.stop_workers()


def export(fmt: str = "csv", parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "transactions",
        "format": fmt,
        "title": "Transações do ano",
        "parameters": YEAR if parameters is None else parameters,
    }


async def test_a_jam_of_bulk_exports_never_delays_inline_reports(
    cluster: Cluster, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    owner = "lanes-jam"
    cluster.start_worker(RELATORIA_BULK_CONCURRENCY="1", **SLOW_SOURCE)
    bulk = [await post(client, export(), owner) for _ in range(4)]
    await wait_status(client, bulk[0], {"processing"}, owner=owner)

    inline = [
        await post(client, table_request("pdf", [["x", 1, 1.5, True, "2026-01-01", None]]), owner)
        for _ in range(5)
    ]
    for rid in inline:
        assert (await wait_status(client, rid, {"done"}, owner=owner))["status"] == "done"

    statuses = await db.fetch(
        "SELECT status FROM report_requests WHERE id = ANY($1::uuid[])",
        [uuid.UUID(r) for r in bulk],
    )
    assert sum(row["status"] != "done" for row in statuses) >= 2, statuses

    # The bulk lane runs one export at a time, as configured.
    while True:
        rows = await db.fetch(
            "SELECT status FROM report_requests WHERE id = ANY($1::uuid[])",
            [uuid.UUID(r) for r in bulk],
        )
        assert sum(row["status"] == "processing" for row in rows) <= 1
        if all(row["status"] == "done" for row in rows):
            break
        await asyncio.sleep(0.05)


async def test_a_worker_consumes_only_the_lanes_it_is_configured_for(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    owner = "lanes-config"
    cluster.start_worker(RELATORIA_WORKER_LANES="interactive")
    exported = await post(client, export(), owner)
    inline = await post(
        client, table_request("csv", [["a", 1, 2.0, True, "2026-01-01", None]]), owner
    )
    await wait_status(client, inline, {"done"}, owner=owner)
    await asyncio.sleep(1)
    assert (await wait_status(client, exported, {"queued"}, owner=owner))["status"] == "queued"

    cluster.start_worker(RELATORIA_WORKER_LANES="bulk")
    assert (await wait_status(client, exported, {"done"}, owner=owner))["status"] == "done"


async def test_progress_shows_rows_written_while_an_export_renders(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    owner = "lanes-progress"
    # Heartbeats (which carry progress) every 0.1 s: the slow export spans several.
    cluster.start_worker(RELATORIA_HEARTBEAT_SECONDS="0.1", **SLOW_SOURCE)
    rid = await post(client, export("xlsx"), owner)
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        document = await wait_status(client, rid, {"processing", "done"}, owner=owner)
        if document["status"] == "done":
            break
        if document["progress"] and document["progress"]["rowsWritten"] > 0:
            seen.append(document["progress"])
        await asyncio.sleep(0.1)
    assert seen, "no progress was shown while the export rendered"
    assert all(p["rowsExpected"] and p["rowsExpectedIsEstimate"] for p in seen)
    written = [p["rowsWritten"] for p in seen]
    assert written == sorted(written)
    done = await wait_status(client, rid, {"done"}, owner=owner)
    assert done["progress"]["rowsWritten"] == done["result"]["rowCount"] > written[0]


async def test_a_pdf_over_the_row_cap_fails_as_too_large_and_no_temporary_file_is_left(
    cluster: Cluster, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    owner = "lanes-pdf-cap"
    cluster.start_worker(RELATORIA_PDF_MAX_ROWS="50", RELATORIA_TEMP_DIR=str(tmp_path))
    july = {"startDate": "2025-07-01", "endDate": "2025-07-31"}
    rid = await post(client, export("pdf", july), owner)
    failed = await wait_status(client, rid, {"done", "error"}, owner=owner)
    assert (failed["status"], failed["errorCode"], failed["attempts"]) == ("error", "TOO_LARGE", 1)
    assert "CSV" in failed["errorMessage"]
    assert cluster.s3_keys(rid) == []

    two_days = {"startDate": "2025-07-01", "endDate": "2025-07-02"}
    for fmt in ("pdf", "xlsx"):
        fine = await post(client, export(fmt, two_days), owner)
        assert (await wait_status(client, fine, {"done", "error"}, owner=owner))["status"] == "done"
    assert not any(tmp_path.iterdir())  # noqa: ASYNC240 - a local directory listing


async def test_an_unreachable_reporting_database_is_retried_then_fails_as_data_source_error(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    owner = "lanes-unreachable"
    cluster.start_worker(RELATORIA_REPORTING_DATABASE_URL="postgresql://postgres@127.0.0.1:1/none")
    rid = await post(client, export(), owner)
    failed = await wait_status(client, rid, {"done", "error"}, owner=owner, seconds=60)
    assert failed["status"] == "error"
    assert failed["errorCode"] == "DATA_SOURCE_ERROR"
    assert failed["attempts"] == cluster.settings.max_attempts
    assert "127.0.0.1" not in failed["errorMessage"]
