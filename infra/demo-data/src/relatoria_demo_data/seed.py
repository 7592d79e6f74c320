"""`relatoria-demo-data`: create the demo reporting dataset (schema `demo`) in PostgreSQL.

Everything is built in a staging schema inside one transaction, loaded with COPY in chunks,
indexed and analysed, and only then swapped in for `demo`: readers keep the old data until
the commit, and a failed run leaves it untouched. Same seed and sizes, same data.
"""

import argparse
import asyncio
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

import asyncpg

from relatoria_demo_data.generate import (
    DEPARTMENT_COLUMNS,
    EMPLOYEE_COLUMNS,
    PAYMENT_COLUMNS,
    TRANSACTION_COLUMNS,
    default_payments,
    department_rows,
    employee_rows,
    payment_rows,
    transaction_rows,
)
from relatoria_demo_data.pools import build_pools
from relatoria_demo_data.schema import TABLES, create_tables, finish_tables, quote
from relatoria_shared.db.migrate import create_database_if_missing
from relatoria_shared.report_types.demo_dataset import SCHEMA

DEFAULT_ROWS = 200_000
DEFAULT_SEED = 2026
CHUNK = 50_000
"""Rows per COPY: big enough to amortise the round trip, small enough to stream."""

STAGING = f"{SCHEMA}_seeding"
LOCK_KEY = 0x64656D6F  # "demo": one seeder at a time per database
ENV_VAR = "RELATORIA_REPORTING_DATABASE_URL"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SeedSummary:
    """What a `seed()` call left in the database."""

    departments: int
    employees: int
    transactions: int
    payments: int
    seconds: float
    skipped: bool
    """True when `if_smaller` found enough transactions and nothing was written."""


def asyncpg_dsn(url: str) -> str:
    """`url` as asyncpg takes it: SQLAlchemy's `postgresql+asyncpg://` becomes `postgresql://`."""
    scheme, separator, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}{separator}{rest}"


def _chunks(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


async def _count(conn: asyncpg.Connection, schema: str, table: str) -> int:
    # Identifiers cannot be bound parameters; both come from this package, quoted.
    query = f"SELECT count(*) FROM {quote(schema)}.{quote(table)}"  # noqa: S608
    count: int = await conn.fetchval(query)
    return count


async def _existing_transactions(conn: asyncpg.Connection) -> int:
    """How many rows demo.transactions holds; 0 when it does not exist."""
    exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{SCHEMA}.transactions")
    return await _count(conn, SCHEMA, "transactions") if exists else 0


async def seed(
    dsn: str,
    *,
    rows: int,
    payments: int | None = None,
    seed: int = DEFAULT_SEED,
    if_smaller: bool = False,
    create_database: bool = False,
    progress: Progress | None = None,
) -> SeedSummary:
    """Create (or replace) schema `demo` in the database at `dsn` and fill it.

    `rows` transactions and `payments` payments (default max(2000, rows // 50)) over the
    shared departments and 5,000 employees, generated from `seed`. With `if_smaller`,
    nothing is written when demo.transactions already holds at least `rows` rows. With
    `create_database`, the database is created first if missing. `dsn` may be a plain
    `postgresql://` DSN or SQLAlchemy's `postgresql+asyncpg://` form.
    """
    if rows < 0:
        raise ValueError("rows must not be negative")
    payments = default_payments(rows) if payments is None else payments
    if payments < 0:
        raise ValueError("payments must not be negative")
    say: Progress = progress or (lambda _message: None)
    started = time.monotonic()
    dsn = asyncpg_dsn(dsn)
    if create_database and await create_database_if_missing(dsn):
        say("created the database")
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            # Two `make run`s starting together: the second waits, then finds the data there.
            await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)
            if if_smaller and (existing := await _existing_transactions(conn)) >= rows:
                say(f"{SCHEMA}.transactions already holds {existing:,} rows: nothing to do")
                return SeedSummary(
                    departments=await _count(conn, SCHEMA, "departments"),
                    employees=await _count(conn, SCHEMA, "employees"),
                    transactions=existing,
                    payments=await _count(conn, SCHEMA, "payments"),
                    seconds=time.monotonic() - started,
                    skipped=True,
                )
            summary = await _Loader(conn, say, started).load(rows, payments, seed)
        say(f"done: schema {SCHEMA} replaced in {summary.seconds:.1f} s")
        return summary
    finally:
        await conn.close()


@dataclass
class _Loader:
    """Builds the staging schema on `conn` (inside the caller's transaction), then swaps it
    in for `demo`."""

    conn: asyncpg.Connection
    say: Progress
    started: float

    def elapsed(self) -> str:
        return f"{time.monotonic() - self.started:.1f} s"

    async def copy(
        self,
        table: str,
        columns: tuple[str, ...],
        rows: Iterable[tuple[Any, ...]],
        *,
        total: int = 0,
    ) -> int:
        """COPY `rows` into the staging `table` chunk by chunk; report each tenth of `total`."""
        done, reported = 0, 0
        for chunk in _chunks(rows, CHUNK):
            await self.conn.copy_records_to_table(
                table, schema_name=STAGING, columns=columns, records=chunk
            )
            done += len(chunk)
            if total >= 10 * CHUNK and done * 10 // total > reported:
                reported = done * 10 // total
                self.say(f"  {table}: {done:,} / {total:,} ({self.elapsed()})")
        return done

    async def load(self, rows: int, payments: int, seed: int) -> SeedSummary:
        """Create, fill, index and analyse the staging schema, then rename it to `demo`."""
        conn, staging = self.conn, quote(STAGING)
        await conn.execute(f"DROP SCHEMA IF EXISTS {staging} CASCADE")
        for statement in create_tables(STAGING):
            await conn.execute(statement)
        # Sorting for the index builds then fits in memory instead of spilling to disk.
        await conn.execute("SET LOCAL maintenance_work_mem = '256MB'")

        pools = build_pools(seed)
        self.say(f"built name pools ({self.elapsed()})")
        departments = await self.copy("departments", DEPARTMENT_COLUMNS, department_rows())
        employees = await self.copy("employees", EMPLOYEE_COLUMNS, employee_rows(pools))
        paid = await self.copy("payments", PAYMENT_COLUMNS, payment_rows(pools, payments, seed))
        self.say(f"loaded departments, employees, payments ({self.elapsed()})")
        transactions = await self.copy(
            "transactions", TRANSACTION_COLUMNS, transaction_rows(pools, rows, seed), total=rows
        )
        self.say(f"loaded {transactions:,} transactions ({self.elapsed()})")

        for statement in finish_tables(STAGING):
            await conn.execute(statement)
        self.say(f"built keys and indexes ({self.elapsed()})")
        for table in TABLES:
            # The report types plan from EXPLAIN's row estimates: give them statistics.
            await conn.execute(f"ANALYZE {staging}.{quote(table)}")
        await conn.execute(f"DROP SCHEMA IF EXISTS {quote(SCHEMA)} CASCADE")
        await conn.execute(f"ALTER SCHEMA {staging} RENAME TO {quote(SCHEMA)}")
        return SeedSummary(
            departments=departments,
            employees=employees,
            transactions=transactions,
            payments=paid,
            seconds=time.monotonic() - self.started,
            skipped=False,
        )


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def main() -> None:
    """Entry point of `relatoria-demo-data`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(ENV_VAR),
        help=f"target database (default: ${ENV_VAR}; postgresql+asyncpg:// is accepted)",
    )
    parser.add_argument(
        "--rows", type=_non_negative, default=DEFAULT_ROWS, help="transactions to create"
    )
    parser.add_argument(
        "--payments", type=_non_negative, default=None, help="payments (default max(2000, rows/50))"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument(
        "--create-database", action="store_true", help="create the database first if missing"
    )
    parser.add_argument(
        "--if-smaller",
        action="store_true",
        help="do nothing if demo.transactions already holds at least --rows rows",
    )
    args = parser.parse_args()
    if not args.database_url:
        parser.error(f"give --database-url or set {ENV_VAR}")
    summary = asyncio.run(
        seed(
            args.database_url,
            rows=args.rows,
            payments=args.payments,
            seed=args.seed,
            if_smaller=args.if_smaller,
            create_database=args.create_database,
            progress=lambda message: print(message, flush=True),
        )
    )
    print(
        f"demo data: {summary.departments} departments, {summary.employees:,} employees, "
        f"{summary.transactions:,} transactions, {summary.payments:,} payments "
        f"({'unchanged' if summary.skipped else f'{summary.seconds:.1f} s'})"
    )


if __name__ == "__main__":
    main()
