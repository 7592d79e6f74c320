"""Chaos fixtures: a cluster per test, on its own namespace and its own database, torn
down afterwards (see `tests.support.cluster.isolated_cluster`)."""

from collections.abc import Iterator

import pytest

from relatoria_shared.settings import Settings
from tests.conftest import settings_env
from tests.support.cluster import Cluster, isolated_cluster
from tests.support.cluster_fixtures import client, db

__all__ = ["client", "cluster", "db"]

# Bigger inline tables (and PDFs) than the other tests allow: renders long enough to be
# killed mid-way.
CHAOS_ENV = {
    "RELATORIA_MAX_ROWS": "150000",
    "RELATORIA_PDF_MAX_ROWS": "150000",
    "RELATORIA_MAX_BODY_BYTES": str(32 * 1024 * 1024),
}


@pytest.fixture
def cluster(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A BFF on a fresh namespace and database; each test starts and kills its own workers."""
    env = settings_env(settings) | CHAOS_ENV
    with isolated_cluster(settings, env, tmp_path_factory.mktemp("chaos")) as running:
        yield running
