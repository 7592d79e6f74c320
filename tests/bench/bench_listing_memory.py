"""`make bench` (listing memory): the BFF's peak RSS while a user lists 20 reports whose
inline tables are 10 MB each (a benchmark, not a test).

The reports are recorded straight into PostgreSQL (as the BFF records them, through its
repository: a 10 MB table is past the HTTP body limit), then one BFF process serves
`GET /v1/reports?limit=20` to that user ten times. A listing reads only the status
columns: the tables stay in PostgreSQL. Prints the BFF's resident memory before, its peak
(VmHWM) after, and the bytes of the listed tables, and writes JSON under
tests/bench/results/. Fails when the listing did not return the 20 reports.
"""

import asyncio
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx

from relatoria_shared.db.pool import open_pool
from relatoria_shared.db.requests import PgRequestRepository
from tests.bench.environment import bench_environment
from tests.bench.results import save_results
from tests.support.api import bearer
from tests.support.processes import RunningProcess, start, wait_ready
from tests.support.requests import GENEROUS, new_report, record
from tests.support.services import free_port

REPORTS = 20
TABLE_BYTES = 10 * 1024 * 1024
OWNER = "bench-lister"
COLUMNS = [{"key": f"c{i}", "label": f"Column {i}", "type": "string"} for i in range(5)]


def memory_mb(process: RunningProcess, field: str) -> float:
    """`field` (VmRSS, VmHWM) of the process's /proc status, in MiB."""
    for line in Path(f"/proc/{process.process.pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc status")


def big_table() -> dict[str, Any]:
    """An inline table of about `TABLE_BYTES` as JSON, of cells that do not compress away."""
    row_bytes = len(COLUMNS) * 36
    rows = [[str(uuid.uuid4()) for _ in COLUMNS] for _ in range(TABLE_BYTES // row_bytes)]
    return {"columns": COLUMNS, "rows": rows}


async def record_reports(settings: Any) -> int:
    pool = await open_pool(settings)
    try:
        requests = PgRequestRepository(pool)
        table = big_table()
        for _ in range(REPORTS):
            await record(requests, new_report(OWNER, parameters=table), GENEROUS)
        stored: int = await pool.fetchval(
            "SELECT sum(pg_column_size(parameters)) FROM report_requests WHERE owner_id = $1",
            OWNER,
        )
    finally:
        await pool.close()
    return stored


async def list_reports(base_url: str) -> int:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        listed = 0
        for _ in range(10):
            page = await client.get("/v1/reports", params={"limit": REPORTS}, headers=bearer(OWNER))
            page.raise_for_status()
            listed = len(page.json()["items"])
    return listed


def main() -> None:
    """Run the benchmark and print its figures."""
    with bench_environment() as (settings, base_env), TemporaryDirectory() as logs:
        stored = asyncio.run(record_reports(settings))
        port = free_port()
        env = base_env | {"RELATORIA_BFF_PORT": str(port), "RELATORIA_LOG_LEVEL": "WARNING"}
        bff = start("relatoria_bff.main", env, Path(logs) / "bff.log")
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_ready(f"{base_url}/readyz", bff)
            before = memory_mb(bff, "VmRSS")
            listed = asyncio.run(list_reports(base_url))
            peak = memory_mb(bff, "VmHWM")
        finally:
            bff.stop()
    results = {
        "started_at": datetime.now(UTC).isoformat(),
        "reports": REPORTS,
        "stored_table_bytes": stored,
        "listed": listed,
        "bff_rss_before_mb": round(before, 1),
        "bff_peak_rss_mb": round(peak, 1),
    }
    print()
    print(f"BFF listing {REPORTS} reports of ~{TABLE_BYTES // 2**20} MB inline tables each")
    print(f"  tables stored (PostgreSQL, compressed)      {stored / 2**20:10.1f} MiB")
    print(f"  BFF resident memory before                  {before:10.1f} MiB")
    print(f"  BFF peak resident memory after 10 listings  {peak:10.1f} MiB")
    save_results("listing", results)
    if listed != REPORTS:
        print(f"measured nothing: the listing returned {listed} of {REPORTS} reports")
        sys.exit(1)


if __name__ == "__main__":
    main()
