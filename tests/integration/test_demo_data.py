"""The demo reporting dataset against the real PostgreSQL: the table contract the report
types query, realistic and reproducible rows, and `--if-smaller` leaving data alone."""

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, time

import asyncpg
import pytest
from sqlalchemy.engine import URL, make_url

from relatoria_demo_data.generate import transaction_rows
from relatoria_demo_data.pools import build_pools
from relatoria_demo_data.seed import SeedSummary, seed
from relatoria_shared.report_types.demo_dataset import DEPARTMENTS, PERIOD_END, PERIOD_START
from tests.support.database import dropped_afterwards

pytestmark = pytest.mark.integration

ROWS = 3000
SEED = 2026
FORMULA_TRIGGERS = ("=", "+", "@")
FINGERPRINTS = {
    table: f"SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM demo.{table} t"
    for table in ("departments", "employees", "payments", "transactions")
}


@pytest.fixture(scope="module")
def demo_url(service_urls: dict[str, str]) -> Iterator[URL]:
    """A database of this module's own (created by the seeder), dropped even on failure."""
    url = make_url(service_urls["PostgreSQL"]).set(
        drivername="postgresql", database=f"relatoria_demo_test_{uuid.uuid4().hex[:10]}"
    )
    with dropped_afterwards(url.render_as_string(hide_password=False)):
        yield url


@pytest.fixture(scope="module")
def dsn(demo_url: URL) -> str:
    return demo_url.render_as_string(hide_password=False)


@pytest.fixture(scope="module")
async def seeded(dsn: str) -> SeedSummary:
    return await seed(dsn, rows=ROWS, seed=SEED, create_database=True)


@pytest.fixture
async def conn(dsn: str, seeded: SeedSummary) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(dsn)
    yield connection
    await connection.close()


async def fingerprints(conn: asyncpg.Connection) -> dict[str, str]:
    return {table: await conn.fetchval(query) for table, query in FINGERPRINTS.items()}


async def test_the_summary_counts_what_was_loaded(seeded: SeedSummary) -> None:
    assert not seeded.skipped
    assert (seeded.departments, seeded.employees) == (12, 5000)
    assert (seeded.transactions, seeded.payments) == (ROWS, 2000)


async def test_departments_are_the_shared_ones_in_order(conn: asyncpg.Connection) -> None:
    rows = await conn.fetch("SELECT id, code, name FROM demo.departments ORDER BY id")
    expected = [(i, code, name) for i, (code, name) in enumerate(DEPARTMENTS.items(), start=1)]
    assert [tuple(row) for row in rows] == expected


async def test_there_are_5000_employees_in_every_department(conn: asyncpg.Connection) -> None:
    row = await conn.fetchrow(
        """SELECT count(*) AS n, count(DISTINCT email) AS emails,
                  count(DISTINCT department_id) AS departments, max(hired_on) AS last_hire
           FROM demo.employees"""
    )
    assert (row["n"], row["emails"], row["departments"]) == (5000, 5000, 12)
    assert row["last_hire"] < PERIOD_START


async def test_transactions_fall_in_the_period_in_id_order(conn: asyncpg.Connection) -> None:
    row = await conn.fetchrow(
        """SELECT count(*) AS n, min(id) AS first_id, max(id) AS last_id,
                  min(occurred_at) AS first_at, max(occurred_at) AS last_at
           FROM demo.transactions"""
    )
    assert (row["n"], row["first_id"], row["last_id"]) == (ROWS, 1, ROWS)
    assert row["first_at"] >= datetime.combine(PERIOD_START, time.min)
    assert row["last_at"] <= datetime.combine(PERIOD_END, time(23, 59, 59))
    out_of_order = await conn.fetchval(
        """SELECT count(*) FROM (
               SELECT id, row_number() OVER (ORDER BY occurred_at, id) AS position
               FROM demo.transactions) ranked
           WHERE id <> position"""
    )
    assert out_of_order == 0


async def test_a_transaction_belongs_to_its_employees_department(
    conn: asyncpg.Connection,
) -> None:
    mismatched = await conn.fetchval(
        """SELECT count(*) FROM demo.transactions t
           JOIN demo.employees e ON e.id = t.employee_id
           WHERE e.department_id <> t.department_id"""
    )
    assert mismatched == 0


async def test_transactions_look_like_real_spending(conn: asyncpg.Connection) -> None:
    row = await conn.fetchrow(
        """SELECT count(DISTINCT category) AS categories, count(DISTINCT merchant) AS merchants,
                  count(DISTINCT currency) AS currencies, min(amount) AS smallest,
                  count(*) FILTER (WHERE extract(isodow FROM occurred_at) < 6) AS weekdays,
                  count(*) FILTER (WHERE extract(hour FROM occurred_at) BETWEEN 8 AND 18)
                      AS business_hours
           FROM demo.transactions"""
    )
    assert row["categories"] >= 10
    assert row["merchants"] >= 500
    assert row["currencies"] == 3
    assert row["smallest"] > 0
    assert row["weekdays"] > 0.8 * ROWS
    assert row["business_hours"] > 0.6 * ROWS


async def test_payments_mix_statuses_and_only_paid_ones_have_a_date(
    conn: asyncpg.Connection,
) -> None:
    by_status = dict(await conn.fetch("SELECT status, count(*) FROM demo.payments GROUP BY 1"))
    assert set(by_status) == {"pending", "paid", "overdue", "cancelled"}
    assert 0.10 * 2000 < by_status["pending"] < 0.20 * 2000
    assert 0.02 * 2000 < by_status["overdue"] < 0.08 * 2000
    inconsistent = await conn.fetchval(
        "SELECT count(*) FROM demo.payments WHERE (paid_on IS NOT NULL) <> (status = 'paid')"
    )
    assert inconsistent == 0
    mismatched = await conn.fetchval(
        """SELECT count(*) FROM demo.payments p JOIN demo.employees e ON e.id = p.employee_id
           WHERE e.department_id <> p.department_id"""
    )
    assert mismatched == 0


async def test_the_indexes_exist_and_the_planner_has_statistics(
    conn: asyncpg.Connection,
) -> None:
    indexes = {
        row["indexdef"].split(" USING btree ")[1]
        for row in await conn.fetch("SELECT indexdef FROM pg_indexes WHERE schemaname = 'demo'")
    }
    assert {"(occurred_at, id)", "(department_id, occurred_at)"} <= indexes
    assert "(status, department_id, due_on)" in indexes
    estimate = await conn.fetchval(
        "SELECT reltuples FROM pg_class WHERE oid = $1::regclass", "demo.transactions"
    )
    assert estimate == ROWS


def test_some_descriptions_would_read_as_spreadsheet_formulas() -> None:
    descriptions = [row[6] for row in transaction_rows(build_pools(SEED), 20_000, SEED)]
    triggers = [d for d in descriptions if d.startswith(FORMULA_TRIGGERS)]
    assert 1 <= len(triggers) <= 30  # about 1 in 2,000
    assert any(not d.isascii() for d in descriptions)
    assert any("—" in d for d in descriptions)


def test_another_seed_gives_other_data() -> None:
    pools = build_pools(SEED)
    first = list(transaction_rows(pools, 200, SEED))
    assert list(transaction_rows(pools, 200, SEED)) == first
    assert list(transaction_rows(build_pools(SEED + 1), 200, SEED + 1)) != first


async def test_seeding_again_with_the_same_seed_gives_identical_data(
    dsn: str, conn: asyncpg.Connection
) -> None:
    before = await fingerprints(conn)
    again = await seed(dsn, rows=ROWS, seed=SEED)
    assert not again.skipped
    assert await fingerprints(conn) == before


async def test_if_smaller_leaves_enough_data_alone(dsn: str, conn: asyncpg.Connection) -> None:
    schema_oid = await conn.fetchval("SELECT 'demo'::regnamespace::oid")
    skipped = await seed(dsn, rows=ROWS, seed=SEED + 1, if_smaller=True)
    assert skipped.skipped
    assert (skipped.transactions, skipped.employees) == (ROWS, 5000)
    assert await conn.fetchval("SELECT 'demo'::regnamespace::oid") == schema_oid


async def test_if_smaller_grows_too_little_data(dsn: str, conn: asyncpg.Connection) -> None:
    try:
        grown = await seed(dsn, rows=ROWS + 500, seed=SEED, if_smaller=True)
        assert not grown.skipped
        assert await conn.fetchval("SELECT count(*) FROM demo.transactions") == ROWS + 500
    finally:
        await seed(dsn, rows=ROWS, seed=SEED)  # back to what the other tests expect


def test_the_command_reads_the_sqlalchemy_url_from_the_environment(
    demo_url: URL, seeded: SeedSummary
) -> None:
    sqlalchemy_url = demo_url.set(drivername="postgresql+asyncpg")
    env = os.environ | {
        "RELATORIA_REPORTING_DATABASE_URL": sqlalchemy_url.render_as_string(hide_password=False)
    }
    result = subprocess.run(
        [sys.executable, "-m", "relatoria_demo_data.seed", "--if-smaller", "--rows", str(ROWS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "nothing to do" in result.stdout
    assert f"{ROWS:,} transactions" in result.stdout
