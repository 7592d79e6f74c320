"""Databases of a test run's own on the shared PostgreSQL, and plain connections to them."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import asyncpg
from sqlalchemy.engine import make_url

from relatoria_demo_data.seed import seed
from relatoria_shared.db.migrate import create_database_if_missing, upgrade
from relatoria_shared.settings import Settings
from tests.support.cleanup import drop_database


async def connect(settings: Settings) -> asyncpg.Connection:
    """Connect with asyncpg to `settings.database_url` (given in SQLAlchemy's form)."""
    url = make_url(settings.database_url.get_secret_value()).set(drivername="postgresql")
    return await asyncpg.connect(url.render_as_string(hide_password=False))


@contextlib.contextmanager
def dropped_afterwards(url: str) -> Iterator[str]:
    """The database `url` names (SQLAlchemy or plain form), dropped on the way out,
    whatever happened inside and whoever is still connected."""
    try:
        yield url
    finally:
        parsed = make_url(url)
        admin = parsed.set(drivername="postgresql", database="postgres")
        asyncio.run(
            drop_database(admin.render_as_string(hide_password=False), str(parsed.database))
        )


@contextlib.contextmanager
def migrated_database(url: str) -> Iterator[str]:
    """A fresh database at `url`, migrated by Alembic, dropped afterwards."""
    with dropped_afterwards(url):
        asyncio.run(create_database_if_missing(url))
        upgrade(url)
        yield url


@contextlib.contextmanager
def demo_reporting_database(dsn: str, rows: int) -> Iterator[str]:
    """A demo reporting database at `dsn` holding `rows` transactions, dropped afterwards."""
    with dropped_afterwards(dsn):
        asyncio.run(seed(dsn, rows=rows, create_database=True))
        yield dsn


@contextlib.asynccontextmanager
async def refusing_writes(settings: Settings, when: str) -> AsyncIterator[None]:
    """While the block runs, PostgreSQL refuses the writes of `report_requests` rows for
    which the PL/pgSQL condition `when` (on NEW, TG_OP) holds, with an error quoting the
    row's title and parameters, as its own errors quote the values they could not take."""
    connection = await connect(settings)
    try:
        await connection.execute(f"""
            CREATE FUNCTION refuse_write() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF {when} THEN
                RAISE EXCEPTION 'refused: % %', NEW.title, NEW.parameters;
              END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_write BEFORE INSERT OR UPDATE ON report_requests
              FOR EACH ROW EXECUTE FUNCTION refuse_write();
        """)
        try:
            yield
        finally:
            await connection.execute(
                "DROP TRIGGER refuse_write ON report_requests; DROP FUNCTION refuse_write();"
            )
    finally:
        await connection.close()
