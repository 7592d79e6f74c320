"""Baseline of `bench_hot_path` for `POST /v1/reports`: the least a FastAPI service must
do to accept a report request, to compare the relatoria BFF with.

A bare FastAPI app under uvicorn (one process, uvloop and httptools as the BFF gets
them): a Pydantic body model (`type`, `format`, `title`, `parameters`), an asyncpg pool
of the BFF's default size, one `INSERT INTO bench_table (...) VALUES (...) RETURNING id,
created_at` into a table it creates in the given database, and a 201 with
`{requestId, status, createdAt}`. No authentication, no validation of the parameters, no
publish to RabbitMQ, no status cache: what relatoria does on top of this is what the
ratio shows.

    python -m tests.bench.baseline_post_app --dsn postgresql://... --port 8123
"""

import argparse
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

POOL_SIZE = 10  # relatoria's default `database_pool_size`

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS bench_table (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    type text NOT NULL,
    format text NOT NULL,
    title text NOT NULL,
    parameters jsonb NOT NULL,
    status text NOT NULL DEFAULT 'queued',
    created_at timestamptz NOT NULL DEFAULT now()
)
"""

INSERT = """
INSERT INTO bench_table (type, format, title, parameters)
VALUES ($1, $2, $3, $4::jsonb)
RETURNING id, created_at
"""


class ReportBody(BaseModel):
    """The request body: the same four fields relatoria's POST takes."""

    type: str = Field(min_length=1, max_length=100)
    format: str = Field(pattern="^(xlsx|pdf|csv)$")
    title: str = Field(min_length=1, max_length=200)
    parameters: dict[str, Any]


def create_app(dsn: str) -> FastAPI:
    """The app, its pool opened at startup and closed at shutdown."""
    state: dict[str, asyncpg.Pool] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(dsn, min_size=POOL_SIZE, max_size=POOL_SIZE)
        async with pool.acquire() as connection:
            await connection.execute(CREATE_TABLE)
        state["pool"] = pool
        yield
        await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/reports", status_code=201)
    async def create_report(body: ReportBody) -> JSONResponse:
        row = await state["pool"].fetchrow(
            INSERT, body.type, body.format, body.title, json.dumps(body.parameters)
        )
        return JSONResponse(
            {
                "requestId": str(row["id"]),
                "status": "queued",
                "createdAt": row["created_at"].isoformat(),
            },
            status_code=201,
        )

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    """Serve the baseline app on 127.0.0.1:`--port`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dsn", required=True, help="asyncpg DSN (postgresql://...)")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.dsn),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
