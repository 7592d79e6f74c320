"""`relatoria-migrate`: bring the database schema to the latest revision.

Migrations ship inside the package, so any image holding `relatoria-shared` can run them
(a Compose one-shot service, a Helm hook Job, `make migrate`).
"""

import argparse
import asyncio
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from relatoria_shared.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration pointing at the packaged migrations and `database_url`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    return config


async def create_database_if_missing(database_url: str) -> bool:
    """Create the database named in `database_url` unless it exists; True if created."""
    url = make_url(database_url)
    name = url.database
    if not name:
        raise ValueError("the database URL names no database")
    admin = url.set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        # Identifiers cannot be bound parameters; quote it the way PostgreSQL does.
        quoted = '"' + name.replace('"', '""') + '"'
        await conn.execute(f"CREATE DATABASE {quoted}")
        return True
    finally:
        await conn.close()


def upgrade(database_url: str) -> None:
    """Apply every pending migration."""
    command.upgrade(alembic_config(database_url), "head")


def main() -> None:
    """Entry point of `relatoria-migrate`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--create-database", action="store_true", help="create the database first if missing"
    )
    args = parser.parse_args()
    url = Settings().database_url.get_secret_value()
    if args.create_database and asyncio.run(create_database_if_missing(url)):
        print(f"created database {make_url(url).database}")
    upgrade(url)
    print("database schema is up to date")


if __name__ == "__main__":
    main()
