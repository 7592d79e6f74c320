"""What every benchmark runs against: a fresh database, namespace, Redis prefix and bucket
on the local services, and a moto S3 server; all removed afterwards."""

import asyncio
import contextlib
import uuid
from collections.abc import Iterator

from moto.server import ThreadedMotoServer

from relatoria_demo_data.seed import seed
from relatoria_shared.db.migrate import create_database_if_missing, upgrade
from relatoria_shared.settings import Settings
from relatoria_shared.storage.object_store import ObjectStore
from tests.conftest import DEV_SECRET, settings_env
from tests.support.cleanup import drop_database, remove_broker_and_cache_state
from tests.support.services import free_port


@contextlib.contextmanager
def bench_environment(**overrides: object) -> Iterator[tuple[Settings, dict[str, str]]]:
    """Settings (production defaults unless overridden) and the matching child env."""
    run_id = uuid.uuid4().hex[:8]
    database = f"relatoria_bench_{run_id}"
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"
    asyncio.run(create_database_if_missing(url))
    upgrade(url)
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    settings = Settings(
        database_url=url,
        amqp_namespace=f"relatoria-bench-{run_id}",
        redis_prefix=f"relatoria-bench:{run_id}:",
        s3_bucket=f"relatoria-bench-{run_id}",
        s3_endpoint_url=f"http://127.0.0.1:{port}",
        s3_public_endpoint_url=f"http://127.0.0.1:{port}",
        s3_access_key_id="testing",
        s3_secret_access_key="testing",
        jwt_secret=DEV_SECRET,
        **overrides,  # type: ignore[arg-type]
    )
    ObjectStore(settings).ensure_bucket()
    try:
        yield settings, settings_env(settings, RELATORIA_LOG_LEVEL="INFO")
    finally:
        moto.stop()
        asyncio.run(remove_broker_and_cache_state(settings))
        asyncio.run(drop_database("postgresql://postgres@127.0.0.1:5432/postgres", database))


@contextlib.contextmanager
def reporting_database(rows: int) -> Iterator[str]:
    """A demo reporting database of `rows` transactions (its DSN), dropped afterwards."""
    name = f"relatoria_bench_reporting_{uuid.uuid4().hex[:8]}"
    dsn = f"postgresql://postgres@127.0.0.1:5432/{name}"
    try:
        asyncio.run(seed(dsn, rows=rows, create_database=True))
        yield dsn
    finally:
        asyncio.run(drop_database("postgresql://postgres@127.0.0.1:5432/postgres", name))
