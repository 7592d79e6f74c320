"""Chaos fixtures: a cluster per test, on its own namespace and its own database, torn
down afterwards. Its own database matters: every worker's sweeper scans the whole
database, so a worker of another test would otherwise take over this test's jobs."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from relatoria_shared.db.migrate import create_database_if_missing, upgrade
from relatoria_shared.settings import Settings
from tests.conftest import settings_env
from tests.support.cleanup import delete_topology, drop_database
from tests.support.cluster import Cluster, http_client, start_cluster
from tests.support.database import connect

# Bigger inline tables than the other tests allow: renders long enough to be killed mid-way.
CHAOS_ENV = {"RELATORIA_MAX_ROWS": "150000", "RELATORIA_MAX_BODY_BYTES": str(32 * 1024 * 1024)}


@pytest.fixture
def cluster(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A BFF on a fresh namespace and database; each test starts and kills its own workers."""
    url = make_url(settings.database_url.get_secret_value())
    name = f"{url.database}_{uuid.uuid4().hex[:6]}"
    own_url = url.set(database=name).render_as_string(hide_password=False)
    asyncio.run(create_database_if_missing(own_url))
    upgrade(own_url)
    isolated = settings.model_copy(update={"database_url": SecretStr(own_url)})
    running = start_cluster(
        isolated, settings_env(isolated) | CHAOS_ENV, tmp_path_factory.mktemp("chaos")
    )
    try:
        yield running
    finally:
        running.stop_all()
        asyncio.run(delete_topology(running.settings))
        admin = url.set(drivername="postgresql", database="postgres")
        asyncio.run(drop_database(admin.render_as_string(hide_password=False), name))


@pytest.fixture
async def db(cluster: Cluster) -> AsyncIterator[asyncpg.Connection]:
    """A plain asyncpg connection to the cluster's own database."""
    conn = await connect(cluster.settings)
    yield conn
    await conn.close()


@pytest.fixture
async def client(cluster: Cluster) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(cluster) as client:
        yield client
