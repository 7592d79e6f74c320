"""A plain asyncpg connection to the database the settings name, for asserting on rows."""

import asyncpg
from sqlalchemy.engine import make_url

from relatoria_shared.settings import Settings


async def connect(settings: Settings) -> asyncpg.Connection:
    """Connect with asyncpg to `settings.database_url` (given in SQLAlchemy's form)."""
    url = make_url(settings.database_url.get_secret_value()).set(drivername="postgresql")
    return await asyncpg.connect(url.render_as_string(hide_password=False))
