"""End to end: data-source reports through the real BFF and worker, from the demo
reporting database to a file downloaded through its presigned URL."""

import csv
import io
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import asyncpg
import httpx
import openpyxl
import pytest
from pypdf import PdfReader

from tests.conftest import HOSTILE_DESCRIPTIONS, RunningSystem
from tests.support.api import bearer, wait_for

pytestmark = pytest.mark.e2e

YEAR = {"startDate": "2025-07-01", "endDate": "2026-06-30"}
JULY = {"startDate": "2025-07-01", "endDate": "2025-07-31"}


@pytest.fixture
async def client(system: RunningSystem) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system.base_url, timeout=10) as client:
        yield client


@pytest.fixture
async def reporting(reporting_database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(reporting_database_url)
    yield conn
    await conn.close()


async def run(
    client: httpx.AsyncClient, user: str, report_type: str, fmt: str, parameters: dict[str, Any]
) -> tuple[dict[str, Any], bytes]:
    headers = bearer(user)
    body = {
        "type": report_type,
        "format": fmt,
        "title": f"{report_type} e2e",
        "parameters": parameters,
    }
    created = await client.post("/v1/reports", json=body, headers=headers)
    assert created.status_code == 201, created.text
    status = await wait_for(client, created.json()["requestId"], headers, seconds=60)
    assert status["status"] == "done", status
    async with httpx.AsyncClient(timeout=30) as plain:
        download = await plain.get(status["downloadUrl"])
    assert download.status_code == 200
    return status, download.content


async def count_transactions(
    conn: asyncpg.Connection, period: dict[str, str], department: str | None
) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM demo.transactions t "
        "JOIN demo.departments d ON d.id = t.department_id "
        "WHERE t.occurred_at >= $1 AND t.occurred_at < $2::date + 1 "
        "AND ($3::text IS NULL OR d.code = $3)",
        date.fromisoformat(period["startDate"]),
        date.fromisoformat(period["endDate"]),
        department,
    )
    return count


async def test_a_year_of_transactions_as_csv_holds_every_row(
    client: httpx.AsyncClient, reporting: asyncpg.Connection
) -> None:
    status, content = await run(client, "e2e-ds-csv", "transactions", "csv", YEAR)
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    expected = await count_transactions(reporting, YEAR, None)
    assert rows[0][:3] == ["Transaction", "Date", "Department"]
    assert len(rows) - 1 == expected == status["result"]["rowCount"]
    assert status["progress"]["rowsWritten"] == expected
    # Descriptions that start like formulas reach the file inert, prefixed with a quote.
    descriptions = {row[6] for row in rows[1:]}
    assert {f"'{text}" for text in HOSTILE_DESCRIPTIONS} <= descriptions
    assert not any(text[:1] in "=+-@" for text in descriptions)
    ids = [int(row[0]) for row in rows[1:]]
    assert ids == sorted(ids)


async def test_one_departments_transactions_as_xlsx(
    client: httpx.AsyncClient, reporting: asyncpg.Connection
) -> None:
    _, content = await run(
        client, "e2e-ds-xlsx", "transactions", "xlsx", YEAR | {"department": "ENG"}
    )
    sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) - 1 == await count_transactions(reporting, YEAR, "ENG")
    assert {row[2] for row in rows[1:]} == {"Engineering"}
    assert all(isinstance(row[7], int | float) for row in rows[1:])


async def test_a_month_of_transactions_as_pdf(
    client: httpx.AsyncClient, reporting: asyncpg.Connection
) -> None:
    status, content = await run(client, "e2e-ds-pdf", "transactions", "pdf", JULY)
    reader = PdfReader(io.BytesIO(content))
    assert len(reader.pages) == status["result"]["pageCount"] >= 1
    assert status["result"]["rowCount"] == await count_transactions(reporting, JULY, None)
    assert "transactions e2e" in (reader.pages[0].extract_text() or "")


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "pdf"])
async def test_spend_by_department_in_every_format(client: httpx.AsyncClient, fmt: str) -> None:
    status, content = await run(
        client, f"e2e-spend-{fmt}", "spend_by_department", fmt, YEAR | {"department": "SAL"}
    )
    assert status["result"]["rowCount"] > 0
    assert content


async def test_pending_payments_lists_only_unpaid_ones(
    client: httpx.AsyncClient, reporting: asyncpg.Connection
) -> None:
    _, content = await run(client, "e2e-pending", "pending_payments", "csv", {"department": "OPS"})
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    expected = await reporting.fetchval(
        "SELECT count(*) FROM demo.payments p JOIN demo.departments d ON d.id = p.department_id "
        "WHERE p.status IN ('pending', 'overdue') AND d.code = 'OPS'"
    )
    assert len(rows) - 1 == expected
    assert {row[7] for row in rows[1:]} <= {"pending", "overdue"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (
            {"type": "transactions", "format": "pdf", "parameters": YEAR},
            "DATE_RANGE_TOO_WIDE",
        ),
        (
            {"type": "transactions", "format": "csv", "parameters": YEAR | {"department": "XX"}},
            "UNKNOWN_DEPARTMENT",
        ),
        (
            {"type": "spend_by_department", "format": "csv", "parameters": YEAR},
            "VALIDATION_ERROR",
        ),
        (
            {
                "type": "transactions",
                "format": "csv",
                "parameters": {"startDate": "yesterday", "endDate": "2025-07-02"},
            },
            "INVALID_PARAMETER",
        ),
    ],
)
async def test_bad_parameters_are_a_422_and_nothing_is_recorded(
    client: httpx.AsyncClient, db: asyncpg.Connection, body: dict[str, Any], code: str
) -> None:
    user = f"e2e-ds-bad-{code.lower()}"
    response = await client.post(
        "/v1/reports", json=body | {"title": "Refused"}, headers=bearer(user)
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    assert await db.fetchval("SELECT count(*) FROM report_requests WHERE owner_id = $1", user) == 0


async def test_the_catalog_serves_each_types_parameter_schema(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/report-types", headers=bearer("e2e-catalog"))
    types = {item["name"]: item for item in response.json()["items"]}
    assert {"table", "transactions", "spend_by_department", "pending_payments"} <= set(types)
    schema = types["transactions"]["parametersSchema"]
    assert set(schema["required"]) == {"startDate", "endDate"}


async def test_status_documents_echo_data_source_parameters(client: httpx.AsyncClient) -> None:
    status, _ = await run(client, "e2e-echo", "pending_payments", "csv", {})
    assert status["parameters"] == {"department": None}
    assert status["type"] == "pending_payments"
