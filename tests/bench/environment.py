"""What every benchmark runs against: a fresh database, namespace, Redis prefix and bucket
on the local services, and a moto S3 server; all removed afterwards."""

import asyncio
import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from relatoria_shared.settings import Settings
from relatoria_shared.storage.object_store import ObjectStore
from tests.conftest import DEV_SECRET, settings_env
from tests.support.cleanup import remove_broker_and_cache_state
from tests.support.database import demo_reporting_database, migrated_database
from tests.support.processes import RunningProcess, start, wait_for_log
from tests.support.services import free_port, reachable


@contextlib.contextmanager
def bench_environment(**overrides: object) -> Iterator[tuple[Settings, dict[str, str]]]:
    """Settings (production defaults unless overridden) and the matching child env."""
    run_id = uuid.uuid4().hex[:8]
    database = f"postgresql+asyncpg://postgres@127.0.0.1:5432/relatoria_bench_{run_id}"
    with migrated_database(database) as url:
        port = free_port()
        moto = s3_server_process(port)
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
            moto.kill()  # a test double: nothing of it needs a clean stop
            moto.wait()
            asyncio.run(remove_broker_and_cache_state(settings))


def s3_server_process(port: int) -> subprocess.Popen[bytes]:
    """A moto S3 server on `port`, in a process of its own once it answers. (Threaded in
    the benchmark's own process, it would share an interpreter lock with the load
    generator: every S3 PUT of the workers would slow the POSTs being sent down.)"""
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not reachable("127.0.0.1", port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the moto S3 server did not start on port {port}")
        time.sleep(0.1)
    return process


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
