"""The BFF app with its lifespan, in the test's own process: over ASGI, or served by a real
uvicorn server on a loopback port as `relatoria-bff` serves it."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import uvicorn
from fastapi import FastAPI

from relatoria_bff.app import create_app
from relatoria_bff.main import server_config
from relatoria_shared.settings import Settings


@asynccontextmanager
async def in_process_bff(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a BFF built from `settings`, its connections opened and closed around
    the block as a server's lifespan does."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bff") as client:
            yield client


@asynccontextmanager
async def served_bff(settings: Settings, keep_alive_seconds: int = 5) -> AsyncIterator[FastAPI]:
    """A BFF built from `settings`, served by uvicorn as `relatoria-bff` serves it
    (`relatoria_bff.main.server_config`), but for a keep-alive of `keep_alive_seconds`,
    on 127.0.0.1:`settings.bff_port`; the app."""
    app = create_app(settings)
    served = settings.model_copy(
        update={"bff_host": "127.0.0.1", "bff_keep_alive_seconds": keep_alive_seconds}
    )
    server = uvicorn.Server(server_config(app, served))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "the server did not start"
        await asyncio.sleep(0.05)
    try:
        yield app
    finally:
        server.should_exit = True
        await serving
