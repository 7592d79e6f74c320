"""Fixtures over a `cluster` fixture (a `Cluster`): its database and an HTTP client.

Imported by the modules and conftests that define a `cluster` fixture of their own."""

from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest

from tests.support.cluster import Cluster, http_client
from tests.support.database import connect


@pytest.fixture
async def db(cluster: Cluster) -> AsyncIterator[asyncpg.Connection]:
    """A plain asyncpg connection to the cluster's own database."""
    conn = await connect(cluster.settings)
    yield conn
    await conn.close()


@pytest.fixture
async def client(cluster: Cluster) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the cluster's BFF."""
    async with http_client(cluster) as client:
        yield client


@pytest.fixture
def worker(cluster: Cluster) -> Iterator[str]:
    """One worker of the cluster, for the test; stopped after it unless the test did."""
    name = cluster.start_worker()
    yield name
    if name in cluster.workers:
        cluster.workers.pop(name).stop()
