"""`make bench` (exports): big data-source reports through the real worker, each beside
the bare library writing the same rows to a local file, and the worker's memory.

For each export a fresh worker process is started, so its peak RSS (VmHWM) belongs to
that export alone. The worker's time is the request's `startedAt` to `finishedAt`: claim,
query, render, hash, upload to S3 (moto over HTTP) and record. The bare run reads the
same rows with the same query through a plain asyncpg server-side cursor, in batches of
the same size, and writes them with the bare library (`csv.writer.writerows`, openpyxl
write-only `append`, reportlab canvas `drawString` per cell with the same font) to a
local file. The read alone is timed too, so both ratios can be read off.

Prints a table and writes JSON under tests/bench/results/.
"""

import argparse
import asyncio
import csv
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import asyncpg
import httpx
from openpyxl import Workbook
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfgen.canvas import Canvas

from relatoria_shared.catalog import CATALOG
from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.report_types.demo_dataset import PERIOD_END, PERIOD_START
from relatoria_worker.renderers.pdf import FONT, _register_fonts
from tests.bench.environment import bench_environment, reporting_database, start_worker
from tests.bench.results import save_results
from tests.support.api import bearer
from tests.support.processes import RunningProcess, start, wait_ready
from tests.support.services import free_port

FETCH_ROWS = 5_000
MB = 1024 * 1024


def peak_rss_mb(process: RunningProcess) -> float:
    """The process's peak resident set size so far (Linux VmHWM), in MiB."""
    for line in Path(f"/proc/{process.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


async def end_date_for(dsn: str, rows: int) -> date:
    """The last day of a range from the start of the period holding about `rows` rows."""
    conn = await asyncpg.connect(dsn)
    try:
        at = await conn.fetchval(
            "SELECT occurred_at FROM demo.transactions ORDER BY occurred_at, id OFFSET $1 LIMIT 1",
            rows - 1,
        )
    finally:
        await conn.close()
    return PERIOD_END if at is None else at.date()


async def bare_export(
    dsn: str, fmt: ReportFormat, parameters: dict[str, Any], out: Path
) -> dict[str, float]:
    """Read the report's rows as the worker does, and write them with the bare library."""
    report = CATALOG["transactions"].data_source
    assert report is not None
    query = report.query(report.validate(parameters, fmt))
    columns = [c.label for c in report.columns]

    async def stream(consume: Callable[[list[Any]], None]) -> int:
        conn = await asyncpg.connect(dsn)
        count = 0
        try:
            async with conn.transaction(readonly=True, isolation="repeatable_read"):
                cursor = await conn.cursor(query.sql, *query.arguments)
                while batch := await cursor.fetch(FETCH_ROWS):
                    consume(batch)
                    count += len(batch)
        finally:
            await conn.close()
        return count

    started = time.perf_counter()
    rows = await stream(lambda _batch: None)
    read_s = time.perf_counter() - started

    started = time.perf_counter()
    if fmt is ReportFormat.CSV:
        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            await stream(writer.writerows)
    elif fmt is ReportFormat.XLSX:
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("Transactions")
        sheet.append(columns)

        def append(batch: list[Any]) -> None:
            for row in batch:
                sheet.append(tuple(row))

        await stream(append)
        workbook.save(out)
    else:
        pdf = _BarePdf(out, columns)
        await stream(pdf.draw)
        pdf.save()
    return {"rows": rows, "read_s": read_s, "bare_s": time.perf_counter() - started}


class _BarePdf:
    """reportlab's canvas at its plainest: a header and one `drawString` per cell, a new
    page whenever the current one is full; the same font and page as the worker's."""

    def __init__(self, out: Path, columns: list[str]) -> None:
        _register_fonts()
        self.canvas = Canvas(str(out), pagesize=landscape(A4), pageCompression=1)
        self.columns = columns
        self.width, self.height = landscape(A4)
        self.step = (self.width - 72) / len(columns)
        self.y = 0.0

    def _header(self) -> None:
        self.canvas.setFont(FONT, 8)
        self.y = self.height - 50
        for i, label in enumerate(self.columns):
            self.canvas.drawString(36 + i * self.step, self.y, label)

    def draw(self, batch: list[Any]) -> None:
        for row in batch:
            if self.y < 50:
                if self.y:
                    self.canvas.showPage()
                self._header()
            self.y -= 14
            for i, value in enumerate(row):
                self.canvas.drawString(36 + i * self.step, self.y, str(value)[:30])

    def save(self) -> None:
        self.canvas.showPage()
        self.canvas.save()


async def worker_export(
    base_url: str, fmt: ReportFormat, parameters: dict[str, Any], owner: str
) -> dict[str, Any]:
    """POST a transactions export and wait for it; the worker's figures."""
    headers = bearer(owner)
    body = {
        "type": "transactions",
        "format": fmt.value,
        "title": "Transactions",
        "parameters": parameters,
    }
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        posted = time.perf_counter()
        created = await client.post("/v1/reports", json=body, headers=headers)
        created.raise_for_status()
        rid = created.json()["requestId"]
        while True:
            document = (await client.get(f"/v1/reports/{rid}", headers=headers)).json()
            if document["status"] in {"done", "error"}:
                break
            await asyncio.sleep(0.2)
    observed = time.perf_counter() - posted
    if document["status"] != "done":
        raise RuntimeError(f"export failed: {document}")
    worker_s = (
        datetime.fromisoformat(document["finishedAt"])
        - datetime.fromisoformat(document["startedAt"])
    ).total_seconds()
    return {
        "rows": document["result"]["rowCount"],
        "worker_s": worker_s,
        "post_to_done_s": observed,
        "size_bytes": document["result"]["sizeBytes"],
        "pages": document["result"]["pageCount"],
    }


def one_export(
    env: dict[str, str], logs: Path, base_url: str, fmt: ReportFormat, end: date
) -> dict[str, Any]:
    """One export on a fresh worker process; its figures and the worker's peak RSS."""
    parameters = {"startDate": PERIOD_START.isoformat(), "endDate": end.isoformat()}
    worker = start_worker(env, logs / f"worker-{fmt.value}-{end}.log")
    try:
        idle = peak_rss_mb(worker)
        figures = asyncio.run(worker_export(base_url, fmt, parameters, f"bench-{fmt.value}"))
        figures |= {"worker_idle_rss_mb": idle, "worker_peak_rss_mb": peak_rss_mb(worker)}
    finally:
        worker.stop()
    figures["rows_per_s"] = figures["rows"] / figures["worker_s"]
    return figures


def main() -> None:
    """Seed the demo data, run the exports and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="200k-row exports instead of 1M")
    args = parser.parse_args()
    big, small, pdf_rows = (200_000, 20_000, 10_000) if args.quick else (1_000_000, 100_000, 50_000)

    results: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(), "quick": args.quick}
    with (
        bench_environment() as (_settings, base_env),
        reporting_database(big) as reporting,
        TemporaryDirectory() as scratch,
    ):
        ends = {n: asyncio.run(end_date_for(reporting, n)) for n in (small, pdf_rows, big)}
        logs = Path(scratch)
        port = free_port()
        env = base_env | {
            "RELATORIA_BFF_PORT": str(port),
            "RELATORIA_LOG_LEVEL": "WARNING",
            "RELATORIA_REPORTING_DATABASE_URL": reporting,
            "RELATORIA_REPORTING_FETCH_ROWS": str(FETCH_ROWS),
        }
        base_url = f"http://127.0.0.1:{port}"
        bff = start("relatoria_bff.main", env, logs / "bff.log")
        try:
            wait_ready(f"{base_url}/readyz", bff)
            results["exports"] = {}
            for fmt, rows in (
                (ReportFormat.CSV, big),
                (ReportFormat.XLSX, big),
                (ReportFormat.PDF, pdf_rows),
                (ReportFormat.CSV, small),
                (ReportFormat.XLSX, small),
            ):
                name, figures = compare(env, logs, base_url, reporting, fmt, ends[rows])
                results["exports"][name] = figures
        finally:
            bff.stop()
    report(results)


def compare(
    env: dict[str, str], logs: Path, base_url: str, reporting: str, fmt: ReportFormat, end: date
) -> tuple[str, dict[str, Any]]:
    """One export through the worker, then the bare library on the same rows."""
    worker = one_export(env, logs, base_url, fmt, end)
    parameters = {"startDate": PERIOD_START.isoformat(), "endDate": end.isoformat()}
    out = logs / f"bare.{fmt.value}"
    bare = asyncio.run(bare_export(reporting, fmt, parameters, out))
    bare["size_bytes"] = out.stat().st_size
    out.unlink()
    name = f"{fmt.value} {worker['rows']:,}"
    print(
        f"  {name}: worker {worker['worker_s']:.1f} s, bare {bare['bare_s']:.1f} s, "
        f"worker peak RSS {worker['worker_peak_rss_mb']:.0f} MB",
        flush=True,
    )
    ratio = worker["worker_s"] / bare["bare_s"]
    return name, {"format": fmt.value, "worker": worker, "bare": bare, "ratio": ratio}


def report(results: dict[str, Any]) -> None:
    """Print the figures and save them as JSON."""
    print()
    print("relatoria export benchmark (2 cores; PostgreSQL, moto S3 and the worker on one machine)")
    print(
        f"{'export':<16}{'rows':>10}{'worker s':>10}{'rows/s':>10}{'bare s':>9}{'read s':>8}"
        f"{'ratio':>7}{'peak RSS MB':>13}{'size MB':>9}"
    )
    for name, e in results["exports"].items():
        w, b = e["worker"], e["bare"]
        print(
            f"{name:<16}{w['rows']:>10}{w['worker_s']:>10.1f}{w['rows_per_s']:>10.0f}"
            f"{b['bare_s']:>9.1f}{b['read_s']:>8.1f}{e['ratio']:>7.2f}"
            f"{w['worker_peak_rss_mb']:>13.0f}{w['size_bytes'] / MB:>9.1f}"
        )
    by_format: dict[str, list[tuple[int, float]]] = {}
    for e in results["exports"].values():
        by_format.setdefault(e["format"], []).append(
            (e["worker"]["rows"], e["worker"]["worker_peak_rss_mb"])
        )
    for fmt, points in by_format.items():
        if len(points) == 2:
            (small_rows, small_rss), (big_rows, big_rss) = sorted(points)
            print(
                f"memory flatness {fmt}: peak RSS {big_rss:.0f} MB at {big_rows:,} rows / "
                f"{small_rss:.0f} MB at {small_rows:,} rows = {big_rss / small_rss:.2f}"
            )
    path = save_results("exports", results)
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
