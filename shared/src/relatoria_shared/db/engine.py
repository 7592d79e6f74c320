"""The one place that builds the async SQLAlchemy engine (asyncpg)."""

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from relatoria_shared.settings import Settings


def create_engine(settings: Settings) -> AsyncEngine:
    """An engine whose pool survives a PostgreSQL restart (connections are pre-pinged)."""
    return create_async_engine(
        settings.database_url.get_secret_value(),
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
    )
