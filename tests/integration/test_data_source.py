"""The reporting database adapter against a real PostgreSQL holding the demo dataset."""

import asyncio
import itertools
import time
from datetime import date

import asyncpg
import pytest

from relatoria_shared.catalog import CATALOG
from relatoria_shared.domain.errors import DataSourceError, DataSourceTimeout, ErrorCode
from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.report_types.base import ReportQuery
from relatoria_worker import data_source
from relatoria_worker.data_source import ReportingDatabase

pytestmark = pytest.mark.integration

YEAR = {"startDate": "2025-07-01", "endDate": "2026-06-30"}


def never_stop() -> None:
    """A job nobody stops."""


def database(dsn: str, timeout: float = 30, fetch_rows: int = 500) -> ReportingDatabase:
    return ReportingDatabase(dsn, statement_timeout_seconds=timeout, fetch_rows=fetch_rows)


def query_of(report_type: str, parameters: dict[str, object]) -> ReportQuery:
    report = CATALOG[report_type].data_source
    assert report is not None
    return report.query(report.validate(parameters, ReportFormat.CSV))


async def worker_connections(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE application_name = 'relatoria-worker' AND datname = current_database()"
        )
        return count
    finally:
        await conn.close()


async def test_a_year_of_transactions_streams_every_row_in_order_in_batches(
    reporting_database_url: str,
) -> None:
    conn = await asyncpg.connect(reporting_database_url)
    expected = await conn.fetchval("SELECT count(*) FROM demo.transactions")
    await conn.close()

    async with database(reporting_database_url).stream(
        query_of("transactions", YEAR), never_stop
    ) as stream:
        rows = await asyncio.to_thread(list, stream.rows)
        assert stream.estimated_rows is not None
        assert 0.5 * expected <= stream.estimated_rows <= 2 * expected

    assert len(rows) == expected
    keys = [(row[1], row[0]) for row in rows]
    assert keys == sorted(keys)
    assert all(len(row) == 10 for row in rows)
    assert await worker_connections(reporting_database_url) == 0


async def test_a_department_filter_returns_only_that_department(
    reporting_database_url: str,
) -> None:
    query = query_of("transactions", YEAR | {"department": "FIN"})
    async with database(reporting_database_url).stream(query, never_stop) as stream:
        rows = await asyncio.to_thread(list, stream.rows)
    assert rows
    assert {row[2] for row in rows} == {"Finance"}


async def test_spend_and_pending_payments_read_the_demo_data(reporting_database_url: str) -> None:
    spend = query_of("spend_by_department", YEAR | {"department": "ENG"})
    async with database(reporting_database_url).stream(spend, never_stop) as stream:
        months = await asyncio.to_thread(list, stream.rows)
    assert months
    assert all(row[3] > 0 for row in months)
    pending = query_of("pending_payments", {})
    async with database(reporting_database_url).stream(pending, never_stop) as stream:
        payments = await asyncio.to_thread(list, stream.rows)
    assert payments
    assert {row[7] for row in payments} <= {"pending", "overdue"}
    assert [row[6] for row in payments] == sorted(row[6] for row in payments)
    assert all(isinstance(row[6], date) for row in payments)


async def test_a_render_that_stops_early_leaves_no_connection_behind(
    reporting_database_url: str,
) -> None:
    source = database(reporting_database_url, fetch_rows=50)
    async with source.stream(query_of("transactions", YEAR), never_stop) as stream:
        first = await asyncio.to_thread(lambda: list(itertools.islice(stream.rows, 120)))
    assert len(first) == 120
    assert await worker_connections(reporting_database_url) == 0


async def test_the_statement_timeout_ends_a_slow_query_as_timeout(
    reporting_database_url: str,
) -> None:
    slow = ReportQuery("SELECT pg_sleep(10), 1 AS one", ())
    started = asyncio.get_running_loop().time()
    with pytest.raises(DataSourceTimeout) as caught:
        async with database(reporting_database_url, timeout=0.3).stream(slow, never_stop) as stream:
            await asyncio.to_thread(list, stream.rows)
    assert asyncio.get_running_loop().time() - started < 5
    assert caught.value.code is ErrorCode.TIMEOUT
    assert await worker_connections(reporting_database_url) == 0


async def test_the_transaction_is_read_only(reporting_database_url: str) -> None:
    # Row locks are writes: a read-only transaction refuses them.
    write = ReportQuery("SELECT id FROM demo.transactions LIMIT 1 FOR UPDATE", ())
    with pytest.raises(DataSourceError) as caught:
        async with database(reporting_database_url).stream(write, never_stop) as stream:
            await asyncio.to_thread(list, stream.rows)
    assert caught.value.code is ErrorCode.DATA_SOURCE_ERROR
    assert caught.value.retryable


async def test_an_unreachable_database_is_a_retryable_data_source_error() -> None:
    with pytest.raises(DataSourceError) as caught:
        async with database("postgresql://postgres@127.0.0.1:1/none").stream(
            ReportQuery("SELECT 1", ()), never_stop
        ):
            pass
    assert caught.value.retryable


async def test_no_configured_database_is_a_data_source_error() -> None:
    with pytest.raises(DataSourceError, match="no reporting database"):
        async with ReportingDatabase(None, statement_timeout_seconds=1, fetch_rows=10).stream(
            ReportQuery("SELECT 1", ()), never_stop
        ):
            pass


async def test_a_database_that_never_answers_is_a_retryable_data_source_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def silent(_reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setattr(data_source, "CONNECT_TIMEOUT_SECONDS", 0.5)
    try:
        with pytest.raises(DataSourceError) as caught:
            async with database(f"postgresql://postgres@127.0.0.1:{port}/none").stream(
                ReportQuery("SELECT 1", ()), never_stop
            ):
                pass
    finally:
        server.close()
    assert caught.value.code is ErrorCode.DATA_SOURCE_ERROR


class Stopped(Exception):
    """What a stopped job raises in its render thread."""


async def test_a_stopped_job_does_not_wait_for_a_slow_query(reporting_database_url: str) -> None:
    stop_at = time.monotonic() + 1

    def stop_after_a_second() -> None:
        if time.monotonic() > stop_at:
            raise Stopped

    slow = ReportQuery("SELECT pg_sleep(20), 1 AS one", ())
    with pytest.raises(Stopped):
        async with database(reporting_database_url).stream(slow, stop_after_a_second) as stream:
            await asyncio.to_thread(list, stream.rows)
    assert time.monotonic() - stop_at < 4
    for _ in range(50):  # the server ends the cancelled backend shortly after
        if await worker_connections(reporting_database_url) == 0:
            break
        await asyncio.sleep(0.1)
    assert await worker_connections(reporting_database_url) == 0
