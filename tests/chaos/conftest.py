"""Chaos fixtures: a cluster per test, on its own namespace, torn down afterwards."""

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from relatoria_shared.settings import Settings
from tests.conftest import settings_env
from tests.support.cleanup import delete_topology
from tests.support.cluster import Cluster, http_client, start_cluster

# Bigger inline tables than the other tests allow: renders long enough to be killed mid-way.
CHAOS_ENV = {"RELATORIA_MAX_ROWS": "150000", "RELATORIA_MAX_BODY_BYTES": str(32 * 1024 * 1024)}


@pytest.fixture
def cluster(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A BFF on a fresh namespace; each test starts and kills its own workers."""
    running = start_cluster(
        settings, settings_env(settings) | CHAOS_ENV, tmp_path_factory.mktemp("chaos")
    )
    try:
        yield running
    finally:
        running.stop_all()
        asyncio.run(delete_topology(running.settings))


@pytest.fixture
async def client(cluster: Cluster) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(cluster) as client:
        yield client
