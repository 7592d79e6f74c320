"""What every benchmark runs against: a fresh database, namespace, Redis prefix and bucket
on the local services, and a moto S3 server; all removed afterwards."""

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

from moto.server import ThreadedMotoServer

from relatoria_shared.settings import Settings
from relatoria_shared.storage.object_store import ObjectStore
from tests.conftest import DEV_SECRET, settings_env
from tests.support.cleanup import remove_broker_and_cache_state
from tests.support.database import demo_reporting_database, migrated_database
from tests.support.processes import RunningProcess, start, wait_for_log
from tests.support.services import free_port


@contextlib.contextmanager
def bench_environment(**overrides: object) -> Iterator[tuple[Settings, dict[str, str]]]:
    """Settings (production defaults unless overridden) and the matching child env."""
    run_id = uuid.uuid4().hex[:8]
    database = f"postgresql+asyncpg://postgres@127.0.0.1:5432/relatoria_bench_{run_id}"
    with migrated_database(database) as url:
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


def start_worker(env: dict[str, str], log: Path, lanes: str | None = None) -> RunningProcess:
    """A worker process (serving `lanes`, or the default lanes), once it consumes."""
    lane_env = {} if lanes is None else {"RELATORIA_WORKER_LANES": lanes}
    worker = start("relatoria_worker.main", env | {"RELATORIA_LOG_LEVEL": "INFO"} | lane_env, log)
    wait_for_log(worker, "worker consuming")
    return worker


def reporting_database(rows: int) -> contextlib.AbstractContextManager[str]:
    """A demo reporting database of `rows` transactions (its DSN), dropped afterwards."""
    name = f"relatoria_bench_reporting_{uuid.uuid4().hex[:8]}"
    return demo_reporting_database(f"postgresql://postgres@127.0.0.1:5432/{name}", rows)
