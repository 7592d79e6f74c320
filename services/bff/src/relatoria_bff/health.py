"""Liveness and readiness."""

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from relatoria_bff.dependencies import Deps

router = APIRouter(tags=["health"])

_CHECK_TIMEOUT = 2.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={503: {"description": "Not ready: PostgreSQL does not answer (same body)"}},
)
async def readyz(resources: Deps) -> JSONResponse:
    """Ready when PostgreSQL answers; Redis is reported but optional. (The BFF uses no
    broker: see `bootstrap.open_resources`.)"""
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(resources.requests.ping(), _CHECK_TIMEOUT)
        checks["postgres"] = "ok"
    except Exception as exc:
        checks["postgres"] = f"error: {type(exc).__name__}"
    redis_ok = await resources.cache.ping()
    checks["redis"] = "ok" if redis_ok else "unavailable (status reads fall back to PostgreSQL)"
    ready = checks["postgres"] == "ok"
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )
