"""The BFF app with its lifespan, served in the test's own process over ASGI."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from relatoria_bff.app import create_app
from relatoria_shared.settings import Settings


@asynccontextmanager
async def in_process_bff(
    settings: Settings, *, raise_app_exceptions: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a BFF built from `settings`, its connections opened and closed around
    the block as a server's lifespan does. With `raise_app_exceptions` false, an unhandled
    error is answered as a server answers it (a 500) instead of raised in the test."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url="http://bff") as client:
            yield client
