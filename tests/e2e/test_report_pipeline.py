"""End to end: the real BFF and worker processes, each format posted, finished, downloaded
through its presigned URL with a plain HTTP client, and the file checked."""

import asyncio
import csv
import hashlib
import io
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aio_pika
import asyncpg
import boto3
import httpx
import openpyxl
import pytest
from pypdf import PdfReader

from relatoria_shared.domain.lanes import Lane
from relatoria_shared.messaging.contract import JobMessage
from relatoria_shared.messaging.publisher import JobPublisher
from relatoria_shared.messaging.topology import declare_for
from relatoria_shared.settings import Settings
from tests.conftest import RunningSystem
from tests.support.api import COLUMNS, bearer, table_request, wait_for
from tests.support.processes import wait_for_log

pytestmark = pytest.mark.e2e

ROWS: list[Any] = [
    ["Ação Ltda.", 3, 1234.5, True, "2026-03-01", "2026-03-01T09:30:00+00:00"],
    {"name": "Ελληνικά & Кириллица", "qty": -2, "amount": 0.25, "paid": False, "due": "2026-12-31"},
    ["<b>markup</b> stays text", None, None, None, None, None],
    ['=HYPERLINK("http://evil")', 7, 7, True, "2026-01-01", "2026-01-01T00:00:00+00:00"],
]
ROWS += [
    [f"Linha {i}", i, i * 1.5, i % 2 == 0, "2026-06-15", "2026-06-15T12:00:00+00:00"]
    for i in range(60)
]
EXPECTED_NAMES = [r[0] if isinstance(r, list) else r["name"] for r in ROWS]


@pytest.fixture
async def client(system: RunningSystem) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system.base_url, timeout=10) as client:
        yield client


async def run_report(
    client: httpx.AsyncClient, fmt: str, user: str
) -> tuple[dict[str, Any], bytes]:
    headers = bearer(user)
    created = await client.post("/v1/reports", json=table_request(fmt, ROWS), headers=headers)
    assert created.status_code == 201, created.text
    status = await wait_for(client, created.json()["requestId"], headers)
    assert status["status"] == "done", status
    # A plain client, no credentials: the presigned URL is the only authorisation needed.
    download = await _fetch(status["downloadUrl"])
    assert download.status_code == 200
    result = status["result"]
    assert result["sizeBytes"] == len(download.content)
    assert result["sha256"] == hashlib.sha256(download.content).hexdigest()
    assert result["rowCount"] == len(ROWS)
    return status, download.content


async def test_xlsx_report(client: httpx.AsyncClient) -> None:
    status, content = await run_report(client, "xlsx", "e2e-xlsx")
    assert status["result"]["fileName"] == "Relatório de teste.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == [c["label"] for c in COLUMNS]
    assert [r[0] for r in rows[1:]] == EXPECTED_NAMES
    first = rows[1]
    assert first[1:5] == (3, 1234.5, True, datetime(2026, 3, 1))
    assert rows[3][1:] == (None, None, None, None, None)
    formula_cell = sheet.cell(row=5, column=1)
    assert (formula_cell.data_type, formula_cell.value) == ("s", '=HYPERLINK("http://evil")')
    assert sheet.freeze_panes == "A2"


async def test_pdf_report(client: httpx.AsyncClient) -> None:
    status, content = await run_report(client, "pdf", "e2e-pdf")
    reader = PdfReader(io.BytesIO(content))
    assert len(reader.pages) == status["result"]["pageCount"] > 1
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    for name in EXPECTED_NAMES:
        assert name in text
    assert "Relatório de teste" in text
    assert f"Page 1 of {len(reader.pages)}" in text


async def test_csv_report(client: httpx.AsyncClient) -> None:
    _, content = await run_report(client, "csv", "e2e-csv")
    parsed = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert parsed[0] == [c["label"] for c in COLUMNS]
    assert parsed[1] == [
        "Ação Ltda.",
        "3",
        "1234.5",
        "true",
        "2026-03-01",
        "2026-03-01T09:30:00+00:00",
    ]
    assert parsed[2] == ["Ελληνικά & Кириллица", "-2", "0.25", "false", "2026-12-31", ""]
    assert parsed[4][0] == '\'=HYPERLINK("http://evil")'  # neutralised, never a formula
    assert [r[0] for r in parsed[6:]] == EXPECTED_NAMES[5:]
    assert len(parsed) == len(ROWS) + 1


async def test_original_contract_aliases(client: httpx.AsyncClient) -> None:
    headers = bearer("e2e-legacy")
    created = await client.post("/generate", json=table_request("csv", ROWS[:2]), headers=headers)
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"requestId", "status", "createdAt"}
    await wait_for(client, body["requestId"], headers)
    legacy = (await client.get(f"/status/{body['requestId']}", headers=headers)).json()
    assert legacy["status"] == "done"
    assert legacy["downloadUrl"].startswith("http")


async def test_download_redirects_to_a_fresh_presigned_url(client: httpx.AsyncClient) -> None:
    headers = bearer("e2e-redirect")
    rid = (
        await client.post("/v1/reports", json=table_request("csv", ROWS[:1]), headers=headers)
    ).json()["requestId"]
    await wait_for(client, rid, headers)
    response = await client.get(f"/v1/reports/{rid}/download", headers=headers)
    assert response.status_code == 302
    fetched = await _fetch(response.headers["Location"])
    assert fetched.status_code == 200
    assert fetched.headers["Content-Type"].startswith("text/csv")
    assert "filename*=UTF-8''" in fetched.headers["Content-Disposition"]


async def test_duplicate_delivery_of_a_finished_request_does_nothing(
    client: httpx.AsyncClient, system: RunningSystem, settings: Settings
) -> None:
    headers = bearer("e2e-duplicate")
    rid = (
        await client.post("/v1/reports", json=table_request("xlsx", ROWS[:3]), headers=headers)
    ).json()["requestId"]
    before = await wait_for(client, rid, headers)
    await _publish_again(settings, uuid.UUID(rid))
    await asyncio.to_thread(
        wait_for_log,
        system.worker,
        f'"job skipped: not claimable (duplicate or finished)", "request_id": "{rid}"',
    )
    after = (await client.get(f"/v1/reports/{rid}", headers=headers)).json()
    assert after["attempts"] == before["attempts"] == 1
    assert after["updatedAt"] == before["updatedAt"]
    assert after["result"]["sha256"] == before["result"]["sha256"]
    s3 = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=settings.s3_region,
    )
    listed = s3.list_objects_v2(Bucket=settings.s3_bucket, Prefix=f"{settings.s3_key_prefix}{rid}")
    (key,) = [o["Key"] for o in listed["Contents"]]  # one file: the first attempt's
    assert key.startswith(f"{settings.s3_key_prefix}{rid}/1-")
    assert key.endswith(".xlsx")
    stored = s3.get_object(Bucket=settings.s3_bucket, Key=key)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == after["result"]["sha256"]


async def _fetch(url: str) -> httpx.Response:
    """GET with a plain client that carries no credentials of ours."""
    async with httpx.AsyncClient(timeout=10) as plain:
        return await plain.get(url)


async def _publish_again(settings: Settings, rid: uuid.UUID) -> None:
    connection = await aio_pika.connect(settings.amqp_url.get_secret_value())
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        declared = await declare_for(connection, channel, settings)
        publisher = JobPublisher(declared, 5)
        await publisher.publish(JobMessage(request_id=rid), Lane.INTERACTIVE)


async def test_a_request_the_worker_cannot_render_ends_as_error_with_a_readable_reason(
    client: httpx.AsyncClient, settings: Settings, db: asyncpg.Connection
) -> None:
    user = "e2e-broken"
    rid = uuid.uuid4()
    # Stored parameters no validation would let through (no columns).
    await db.execute(
        "INSERT INTO report_requests (id, owner_id, report_type, format, title, parameters)"
        " VALUES ($1, $2, 'table', 'pdf', 'broken', '{\"rows\": [[1]]}')",
        rid,
        user,
    )
    await _publish_again(settings, rid)
    status = await wait_for(client, str(rid), bearer(user))
    assert status["status"] == "error"
    assert status["errorCode"] == "INVALID_PARAMETERS"
    assert "parameters" in status["errorMessage"]
    assert status["downloadUrl"] is None
