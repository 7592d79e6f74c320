"""The FastAPI application factory."""

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from relatoria_bff import health
from relatoria_bff.body_limit import BodySizeLimit
from relatoria_bff.bootstrap import ResourcesOnDemand
from relatoria_bff.errors import install_error_handlers
from relatoria_bff.reports import legacy_views, views
from relatoria_bff.request_trail import RequestTrail
from relatoria_shared.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    """Build the BFF; nothing connects until the app starts or serves its first request.

    With its lifespan (a server), connections open at start-up, so a broken dependency
    stops the process before it takes traffic, and close at shutdown. Without it (Lambda),
    the first request that needs them opens them.
    """
    resources = ResourcesOnDemand(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await resources.get()
        try:
            yield
        finally:
            await resources.aclose()

    app = FastAPI(
        title="relatoria",
        version="0.1.0",
        summary="Asynchronous report generation: request, watch, download.",
        lifespan=lifespan,
    )
    app.state.resources = resources
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestTrail)  # outermost: its span and log line cover everything
    app.include_router(views.router)
    app.include_router(legacy_views.router)
    app.include_router(health.router)
    return app
