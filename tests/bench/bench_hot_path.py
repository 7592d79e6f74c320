"""`make bench` (hot path): relatoria's hot paths measured side by side with bare baselines
doing the least the same job needs, in one run on this machine (a benchmark, not a test).

Against the real services and the real BFF and worker processes (production default
settings: lease, heartbeat and sweep are not overridden):

1. `POST /v1/reports` (a 2-row `table` XLSX request) on one BFF process, workers stopped,
   driven by `wrk -t2 -c50 --latency` (a Python client when wrk is missing), against
   `baseline_post_app` (FastAPI + asyncpg INSERT ... RETURNING) under the same load:
   2xx requests/s, p50, p99, and CPU per request of the server process (/proc utime +
   stime over the run, divided by the requests completed).
2. `GET /v1/reports/{id}` of a queued report (its status cached in Redis by a first read)
   against `baseline_status_app` (FastAPI reading the same Redis hash field).
3. Drain: N inline 100-row x 5-column XLSX reports queued while no worker runs, then 2
   worker processes (interactive lane) started; from the first job's `started_at` to the
   last one's `finished_at` (PostgreSQL): reports/s, worker CPU per report (from each
   worker's "worker consuming" to the end of the drain) and peak RSS (VmHWM, both workers
   summed), against 2 `baseline_worker_loop` processes draining the same N jobs.
4. Online: the same N reports POSTed (by wrk, 24 connections, 24 owners) while the 2
   workers run: reports/s from the first POST to the last `finished_at`. (An httpx client
   would take about half a core from the BFF and workers it loads.)
5. Fair share: owner A POSTs a burst of N, owner B one report right after; B's
   `created_at` to `finished_at`, and when A's burst finished.
6. Recovery: a long PDF rendering on one of 2 workers, that worker SIGKILLed; seconds
   until the job is claimed again (its `attempts` goes to 2), over several trials.

N is 1,000 (300 with --quick). Prints a table of relatoria against the baselines with
ratios and PASS/MISS against each target, and writes JSON under tests/bench/results/.
A missed target is a figure; a figure that could not be measured (wrk saw no requests or
mostly errors, nothing drained, a SIGKILL that did not land, a wait that timed out) is a
failure: it is printed as such and the run exits non-zero.
"""

import argparse
import asyncio
import os
import shutil
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from sqlalchemy.engine import make_url

from relatoria_shared.settings import Settings
from tests.bench.environment import bench_environment
from tests.bench.hot_path_context import BFF_ENV, Bench, reports_per_run
from tests.bench.hot_path_drain import section_drain, section_online
from tests.bench.hot_path_fairness import section_fair, section_recovery
from tests.bench.hot_path_http import section_get, section_post
from tests.bench.hot_path_table import table
from tests.bench.http_load import MeasuredNothingError
from tests.bench.results import save_results
from tests.support.database import connect
from tests.support.processes import start, wait_ready
from tests.support.services import free_port

SECTIONS: list[tuple[str, Callable[[Bench], Awaitable[dict[str, Any]]]]] = [
    ("post", section_post),
    ("get", section_get),
    ("drain", section_drain),
    ("online", section_online),
    ("fair_share", section_fair),
    ("recovery", section_recovery),
]


async def run_sections(bench: Bench, results: dict[str, Any], only: set[str]) -> None:
    """Every section in turn; one that fails is recorded and the next one still runs."""
    for name, section in SECTIONS:
        if only and name not in only:
            continue
        print(f"== {name}", flush=True)
        began = time.monotonic()
        try:
            results[name] = await section(bench)
        except MeasuredNothingError as exc:
            bench.fail(f"{name}: {exc}")
            results[name] = {"failed": str(exc)}
        except Exception as exc:
            traceback.print_exc()
            bench.fail(f"{name}: crashed: {exc!r}")
            results[name] = {"failed": repr(exc)}
        print(f"   ({time.monotonic() - began:.0f}s)", flush=True)


async def run(
    settings: Settings, env: dict[str, str], logs: Path, quick: bool, only: set[str]
) -> tuple[dict[str, Any], list[str], list[str]]:
    """Start the BFF, run the sections, stop every process started."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    bff = start(
        "relatoria_bff.main", env | BFF_ENV | {"RELATORIA_BFF_PORT": str(port)}, logs / "bff.log"
    )
    url = make_url(settings.database_url.get_secret_value()).set(drivername="postgresql")
    db = await connect(settings)
    bench = Bench(
        settings=settings,
        env=env | BFF_ENV,
        logs=logs,
        base_url=base_url,
        bff=bff,
        dsn=url.render_as_string(hide_password=False),
        db=db,
        quick=quick,
        reports=reports_per_run(quick),
        processes=[bff],
    )
    results: dict[str, Any] = {}
    try:
        wait_ready(f"{base_url}/readyz", bff)
        await run_sections(bench, results, only)
    finally:
        for running in bench.processes:
            if not running.log_file.closed:
                running.stop()
        await db.close()
    return results, bench.failures, bench.notes


def main() -> None:
    """Run the benchmark, print its table, save its JSON; exit 1 if anything measured
    nothing."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs, fewer reports")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        choices=[name for name, _ in SECTIONS],
        help="run only this section (repeatable); for development",
    )
    args = parser.parse_args()
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(),
        "quick": args.quick,
        "reports": reports_per_run(args.quick),
        "cores": os.cpu_count(),
        "load_generator": "wrk" if shutil.which("wrk") else "httpx (wrk not installed)",
    }
    if not shutil.which("wrk"):
        print("wrk is not installed: the HTTP loads use a Python client (noisier, heavier)")
    with bench_environment() as (settings, env), TemporaryDirectory() as logs:
        figures, failures, notes = asyncio.run(
            run(settings, env, Path(logs), args.quick, set(args.only))
        )
    results |= figures | {"failures": failures, "notes": notes}
    print()
    print(
        f"relatoria hot path vs bare baselines ({os.cpu_count()} cores, shared; load "
        "generators on the same machine)"
    )
    for line in table(results):
        print(line)
    for note in notes:
        print(f"note: {note}")
    path = save_results("hot_path", results)
    print(f"\nsaved {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    if failures:
        print(f"\nFAILED: {len(failures)} figure(s) measured nothing:", file=sys.stderr)
        for failure in failures:
            print(f"  - {failure.splitlines()[0]}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
