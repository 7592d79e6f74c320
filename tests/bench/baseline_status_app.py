"""Baseline of `bench_hot_path` for `GET /v1/reports/{id}`: the least a FastAPI service
must do to answer a status read from the Redis cache relatoria keeps, to compare the
relatoria BFF with.

A bare FastAPI app under uvicorn (one process): `HGET <key> doc` of the same Redis hash
the relatoria BFF caches a status document in (`--key-format`, e.g.
`relatoria:status:{id}`, as `StatusCache.key` spells it), the document parsed and
answered as JSON; 404 when the key is missing. No authentication, no owner check, no
fall-back to PostgreSQL.

    python -m tests.bench.baseline_status_app --redis-url redis://... \
        --key-format 'prefix:status:{id}' --port 8124
"""

import argparse
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from redis.asyncio import Redis


def create_app(redis_url: str, key_format: str) -> FastAPI:
    """The app, its Redis client opened at startup and closed at shutdown."""
    state: dict[str, Redis] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state["redis"] = Redis.from_url(redis_url)
        yield
        await state["redis"].aclose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/v1/reports/{report_id}")
    async def get_report(report_id: uuid.UUID) -> JSONResponse:
        raw = await state["redis"].hget(key_format.format(id=report_id), "doc")
        if raw is None:
            return JSONResponse({"code": "REPORT_NOT_FOUND"}, status_code=404)
        return JSONResponse(json.loads(raw))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    """Serve the baseline app on 127.0.0.1:`--port`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--key-format", required=True, help="the hash's key, with {id}")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.redis_url, args.key_format),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
