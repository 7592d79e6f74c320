"""Baseline of `bench_hot_path` for the workers: the least a worker process must do per
small inline report, to compare relatoria's workers with.

One plain process (the benchmark starts two) looping over jobs pre-inserted into a
`bench_jobs` table of the benchmark's database:
1. claim the oldest queued job (`UPDATE bench_jobs SET status = 'processing' ... WHERE id =
   (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING id, payload`, asyncpg);
2. render its table (columns and rows, as relatoria's `table` reports carry them) with an
   openpyxl write-only workbook into memory: a header row and typed cells;
3. `put_object` it with boto3 to the benchmark's S3 bucket (the same moto server);
4. `UPDATE bench_jobs SET status = 'done', finished_at = now() ...`;
5. `SET` a small status JSON in Redis.
One job at a time; when no job is queued it sleeps 50 ms and looks again, until it is
terminated. No broker, no lease, no heartbeat, no retries.

    python -m tests.bench.baseline_worker_loop --dsn postgresql://... \
        --s3-endpoint http://127.0.0.1:PORT --bucket B --redis-url redis://... \
        --redis-prefix P --worker-id baseline-1
"""

import argparse
import asyncio
import io
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import boto3
from openpyxl import Workbook
from redis.asyncio import Redis

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
READY = "baseline worker ready"
IDLE_SLEEP_SECONDS = 0.05

CREATE_TABLE = """
DROP TABLE IF EXISTS bench_jobs;
CREATE TABLE bench_jobs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    status text NOT NULL DEFAULT 'queued',
    payload jsonb NOT NULL,
    title text NOT NULL,
    worker_id text,
    object_key text,
    size_bytes integer,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    started_at timestamptz,
    finished_at timestamptz
);
CREATE INDEX bench_jobs_queued ON bench_jobs (created_at) WHERE status = 'queued';
"""

INSERT_JOBS = """
INSERT INTO bench_jobs (payload, title)
SELECT $1::jsonb, $2 FROM generate_series(1, $3)
"""

CLAIM = """
UPDATE bench_jobs SET status = 'processing', worker_id = $1, started_at = now()
WHERE id = (
    SELECT id FROM bench_jobs WHERE status = 'queued'
    ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED
)
RETURNING id, payload, title
"""

DONE = """
UPDATE bench_jobs SET status = 'done', finished_at = now(), object_key = $2, size_bytes = $3
WHERE id = $1
RETURNING finished_at
"""


async def prepare(dsn: str, jobs: int, payload: dict[str, Any], title: str) -> None:
    """(Re)create `bench_jobs` holding `jobs` queued jobs of `payload` (columns and rows)."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(CREATE_TABLE)
        await connection.execute(INSERT_JOBS, json.dumps(payload), title, jobs)
    finally:
        await connection.close()


def _naive_utc(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "date": date.fromisoformat,
    "datetime": _naive_utc,
}


def render_xlsx(payload: dict[str, Any], title: str) -> bytes:
    """The table as an XLSX workbook: a header row of labels, then typed cells."""
    columns = payload["columns"]
    converters = [_CONVERT[column["type"]] for column in columns]
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    sheet.append([column["label"] for column in columns])
    for row in payload["rows"]:
        cells = row if isinstance(row, list) else [row.get(c["key"]) for c in columns]
        sheet.append([None if v is None else f(v) for f, v in zip(converters, cells, strict=True)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def run(args: argparse.Namespace) -> None:
    """Connect, say so, then claim and finish jobs until terminated."""
    connection = await asyncpg.connect(args.dsn)
    redis = Redis.from_url(args.redis_url)
    s3 = boto3.client(
        "s3",
        endpoint_url=args.s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    print(READY, flush=True)
    while True:
        job = await connection.fetchrow(CLAIM, args.worker_id)
        if job is None:
            await asyncio.sleep(IDLE_SLEEP_SECONDS)
            continue
        body = render_xlsx(json.loads(job["payload"]), job["title"])
        key = f"baseline/{job['id']}.xlsx"
        s3.put_object(Bucket=args.bucket, Key=key, Body=body, ContentType=XLSX)
        finished = await connection.fetchval(DONE, job["id"], key, len(body))
        status = {
            "requestId": str(job["id"]),
            "status": "done",
            "finishedAt": finished.isoformat(),
            "sizeBytes": len(body),
        }
        await redis.set(f"{args.redis_prefix}{job['id']}", json.dumps(status), ex=86_400)


def main() -> None:
    """Run one baseline worker."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dsn", required=True, help="asyncpg DSN (postgresql://...)")
    parser.add_argument("--s3-endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--redis-prefix", required=True, help="status keys: <prefix><job id>")
    parser.add_argument("--worker-id", required=True)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
