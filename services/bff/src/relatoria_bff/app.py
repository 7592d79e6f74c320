"""The FastAPI application factory."""

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from relatoria_bff import health
from relatoria_bff.body_limit import BodySizeLimit
from relatoria_bff.bootstrap import open_resources
from relatoria_bff.errors import install_error_handlers
from relatoria_bff.reports import legacy_views, views
from relatoria_shared.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    """Build the BFF; connections open when the app starts and close when it stops."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(settings) as resources:
            app.state.resources = resources
            yield

    app = FastAPI(
        title="relatoria",
        version="0.1.0",
        summary="Asynchronous report generation: request, watch, download.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.include_router(views.router)
    app.include_router(legacy_views.router)
    app.include_router(health.router)
    return app
