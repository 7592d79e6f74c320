"""Fixtures over the real services: each test run gets its own database, AMQP namespace,
Redis key prefix and S3 bucket (a moto server over HTTP), and removes them afterwards."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import asyncpg
import pytest
from moto.server import ThreadedMotoServer
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from relatoria_shared.db.pool import open_pool
from relatoria_shared.settings import Settings
from relatoria_shared.storage.object_store import ObjectStore
from tests.support.cleanup import remove_broker_and_cache_state
from tests.support.containers import started
from tests.support.database import connect, demo_reporting_database, migrated_database
from tests.support.processes import RunningProcess, start, wait_for_log, wait_ready
from tests.support.services import START_HINTS, docker_engine_available, free_port, reachable

DEV_SECRET = "test-secret-that-is-long-enough-for-hs256"
REPORTING_ROWS = 3_000
"""Transactions in the test run's demo reporting database."""

LOCAL = {
    "PostgreSQL": ("127.0.0.1", 5432, "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"),
    "Redis": ("127.0.0.1", 6379, "redis://127.0.0.1:6379/0"),
    "RabbitMQ": ("127.0.0.1", 5672, "amqp://guest:guest@127.0.0.1:5672/"),
}


@pytest.fixture(scope="session")
def service_urls() -> Iterator[dict[str, str]]:
    """URLs of PostgreSQL, Redis and RabbitMQ: local ones, else containers, else a failure."""
    with ExitStack() as stack:
        urls: dict[str, str] = {}
        for name, (host, port, url) in LOCAL.items():
            if reachable(host, port):
                urls[name] = url
            elif docker_engine_available():
                urls[name] = stack.enter_context(started(name))
            else:
                pytest.fail(
                    f"{name} is not reachable at {host}:{port} and no Docker engine is available "
                    f"for testcontainers. Start it with: {START_HINTS[name]}"
                )
        yield urls


@pytest.fixture(scope="session")
def run_id() -> str:
    """A short random id naming everything this test run creates."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def database_url(service_urls: dict[str, str], run_id: str) -> Iterator[str]:
    """A fresh database, migrated by Alembic, dropped at the end."""
    url = make_url(service_urls["PostgreSQL"]).set(database=f"relatoria_test_{run_id}")
    with migrated_database(url.render_as_string(hide_password=False)) as migrated:
        yield migrated


HOSTILE_DESCRIPTIONS = ('=HYPERLINK("http://evil.example","click")', "+1 555 0100", "@SUM(A1)")
"""Descriptions a spreadsheet would run as formulas, added at the end of the period."""


async def add_hostile_transactions(dsn: str) -> None:
    """Append transactions whose descriptions start like formulas (in time and id order)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.executemany(
            "INSERT INTO demo.transactions (id, occurred_at, department_id, employee_id, "
            "merchant, category, description, amount, currency, payment_method) "
            "SELECT (SELECT max(id) + 1 FROM demo.transactions), '2026-06-30 23:59:59', "
            "e.department_id, e.id, 'Evil Corp', 'Software', $1, 6.66, 'BRL', 'PIX' "
            "FROM demo.employees e WHERE e.id = 1",
            [(text,) for text in HOSTILE_DESCRIPTIONS],
        )
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def reporting_database_url(service_urls: dict[str, str], run_id: str) -> Iterator[str]:
    """A demo reporting database of REPORTING_ROWS transactions (and the hostile ones),
    dropped at the end."""
    url = make_url(service_urls["PostgreSQL"]).set(
        drivername="postgresql", database=f"relatoria_reporting_test_{run_id}"
    )
    dsn = url.render_as_string(hide_password=False)
    with demo_reporting_database(dsn, REPORTING_ROWS):
        asyncio.run(add_hostile_transactions(dsn))
        yield dsn


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server spoken to over HTTP."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
def settings(
    database_url: str,
    reporting_database_url: str,
    service_urls: dict[str, str],
    s3_endpoint: str,
    run_id: str,
) -> Iterator[Settings]:
    """Settings pointing at this run's database, namespace, prefix and bucket."""
    settings = Settings(
        database_url=database_url,
        reporting_database_url=reporting_database_url,
        amqp_url=service_urls["RabbitMQ"],
        amqp_namespace=f"relatoria-test-{run_id}",
        redis_url=service_urls["Redis"],
        redis_prefix=f"relatoria-test:{run_id}:",
        s3_bucket=f"relatoria-test-{run_id}",
        s3_endpoint_url=s3_endpoint,
        s3_public_endpoint_url=s3_endpoint,
        s3_access_key_id="testing",
        s3_secret_access_key="testing",
        jwt_secret=DEV_SECRET,
        max_rows=500,
        max_body_bytes=256 * 1024,
        worker_concurrency=2,
        # Failure handling on a test's time scale: seconds, not minutes.
        lease_seconds=3,
        heartbeat_seconds=0.5,
        sweep_interval_seconds=0.5,
        idle_poll_seconds=0.5,
        max_attempts=3,
        retry_base_seconds=0.3,
        retry_factor=2,
        retry_cap_seconds=2,
        # Webhook retries on a test's time scale too, to receivers on this machine.
        webhook_retry_base_seconds=0.3,
        webhook_retry_factor=2,
        webhook_retry_cap_seconds=1,
        webhook_retry_horizon_seconds=4,
        webhook_allowed_hosts=["127.0.0.0/8"],
    )
    ObjectStore(settings).ensure_bucket()
    yield settings
    asyncio.run(remove_broker_and_cache_state(settings))


def settings_env(settings: Settings, **overrides: str) -> dict[str, str]:
    """The environment that gives a child process the same settings."""
    env = {
        "RELATORIA_DATABASE_URL": settings.database_url.get_secret_value(),
        "RELATORIA_REPORTING_DATABASE_URL": (
            settings.reporting_database_url.get_secret_value()
            if settings.reporting_database_url
            else ""
        ),
        "RELATORIA_AMQP_URL": settings.amqp_url.get_secret_value(),
        "RELATORIA_AMQP_NAMESPACE": settings.amqp_namespace,
        "RELATORIA_REDIS_URL": settings.redis_url.get_secret_value(),
        "RELATORIA_REDIS_PREFIX": settings.redis_prefix,
        "RELATORIA_S3_BUCKET": settings.s3_bucket,
        "RELATORIA_S3_ENDPOINT_URL": settings.s3_endpoint_url or "",
        "RELATORIA_S3_PUBLIC_ENDPOINT_URL": settings.s3_public_endpoint_url or "",
        "RELATORIA_S3_ACCESS_KEY_ID": settings.s3_access_key_id or "",
        "RELATORIA_S3_SECRET_ACCESS_KEY": "testing",
        "RELATORIA_JWT_SECRET": DEV_SECRET,
        "RELATORIA_MAX_ROWS": str(settings.max_rows),
        "RELATORIA_MAX_BODY_BYTES": str(settings.max_body_bytes),
        "RELATORIA_WORKER_CONCURRENCY": str(settings.worker_concurrency),
        "RELATORIA_LEASE_SECONDS": str(settings.lease_seconds),
        "RELATORIA_HEARTBEAT_SECONDS": str(settings.heartbeat_seconds),
        "RELATORIA_SWEEP_INTERVAL_SECONDS": str(settings.sweep_interval_seconds),
        "RELATORIA_IDLE_POLL_SECONDS": str(settings.idle_poll_seconds),
        "RELATORIA_MAX_ATTEMPTS": str(settings.max_attempts),
        "RELATORIA_RETRY_BASE_SECONDS": str(settings.retry_base_seconds),
        "RELATORIA_RETRY_FACTOR": str(settings.retry_factor),
        "RELATORIA_RETRY_CAP_SECONDS": str(settings.retry_cap_seconds),
        "RELATORIA_WEBHOOK_RETRY_BASE_SECONDS": str(settings.webhook_retry_base_seconds),
        "RELATORIA_WEBHOOK_RETRY_FACTOR": str(settings.webhook_retry_factor),
        "RELATORIA_WEBHOOK_RETRY_CAP_SECONDS": str(settings.webhook_retry_cap_seconds),
        "RELATORIA_WEBHOOK_RETRY_HORIZON_SECONDS": str(settings.webhook_retry_horizon_seconds),
        "RELATORIA_WEBHOOK_ALLOWED_HOSTS": ",".join(settings.webhook_allowed_hosts),
        "RELATORIA_LOG_FORMAT": "json",
        "RELATORIA_METRICS_PORT": "0",  # many workers run at once: each test picks a port
    }
    return env | overrides


@dataclass
class RunningSystem:
    """The real BFF and worker processes of this test run."""

    base_url: str
    bff: RunningProcess
    worker: RunningProcess
    worker_metrics_url: str


@pytest.fixture(scope="session")
def system(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    """One BFF (uvicorn) and one worker, started as processes against this run's services."""
    logs = tmp_path_factory.mktemp("logs")
    port, metrics_port = free_port(), free_port()
    env = settings_env(settings, RELATORIA_BFF_PORT=str(port), RELATORIA_WORKER_ID="worker-e2e-1")
    bff = start("relatoria_bff.main", env, logs / "bff.log")
    worker_env = env | {"RELATORIA_METRICS_PORT": str(metrics_port)}
    worker = start("relatoria_worker.main", worker_env, logs / "worker.log")
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base_url}/readyz", bff)
        wait_for_log(worker, "worker consuming")
        yield RunningSystem(base_url, bff, worker, f"http://127.0.0.1:{metrics_port}/metrics")
    finally:
        bff.stop()
        worker.stop()


@pytest.fixture(scope="module")
def own_settings(settings: Settings) -> Iterator[Settings]:
    """The run's services with a database, namespace and prefix of the module's own.

    Workers claim whatever is due in their lane: requests a module makes for itself must be
    out of reach of the run's other workers (and its assertions out of reach of theirs)."""
    suffix = uuid.uuid4().hex[:6]
    url = make_url(settings.database_url.get_secret_value())
    own = url.set(database=f"{url.database}_{suffix}").render_as_string(hide_password=False)
    with migrated_database(own):
        isolated = settings.model_copy(
            update={
                "database_url": SecretStr(own),
                "amqp_namespace": f"{settings.amqp_namespace}-{suffix}",
                "redis_prefix": f"{settings.redis_prefix}{suffix}:",
                # The cleanup removes files no request of its database needs.
                "s3_key_prefix": f"{settings.s3_key_prefix}{suffix}/",
            }
        )
        yield isolated
        asyncio.run(remove_broker_and_cache_state(isolated))


@pytest.fixture
async def pool(own_settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """The services' pool on the module's own database."""
    opened = await open_pool(own_settings)
    yield opened
    await opened.close()


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """A plain asyncpg connection to this run's database, for asserting on rows."""
    conn = await connect(settings)
    yield conn
    await conn.close()
