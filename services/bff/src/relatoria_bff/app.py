"""The FastAPI application factory."""

import contextlib
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from relatoria_bff import health
from relatoria_bff.body_budget import BodyBudget
from relatoria_bff.body_limit import BodySizeLimit
from relatoria_bff.bootstrap import ResourcesOnDemand
from relatoria_bff.errors import install_error_handlers
from relatoria_bff.metrics import BffMetrics
from relatoria_bff.metrics import router as metrics_router
from relatoria_bff.reports import event_views, legacy_views, views
from relatoria_bff.request_telemetry import PROBE_PATHS, RequestTelemetry
from relatoria_bff.unhandled_errors import UnhandledErrors
from relatoria_bff.webhooks import views as webhook_views
from relatoria_shared.garbage_collector import settle_garbage_collector
from relatoria_shared.settings import Settings


def create_app(
    settings: Settings, metrics: BffMetrics | None = None, *, streams: bool = True
) -> FastAPI:
    """Build the BFF; nothing connects until the app starts or serves its first request.

    With its lifespan (a server), connections open at start-up, so a broken dependency
    stops the process before it takes traffic, and close at shutdown. Without it (Lambda),
    the first request that needs them opens them. `metrics` (by default, on a registry of
    the app's own) are served at `GET /metrics`, which needs none of those connections.
    Without `streams` (behind API Gateway, which cannot stream), the event routes answer
    `501 STREAMING_UNSUPPORTED`.
    """
    metrics = metrics if metrics is not None else BffMetrics()
    resources = ResourcesOnDemand(settings, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await resources.get()
        settle_garbage_collector()  # what start-up built stays: out of the collector's way
        try:
            yield
        finally:
            await resources.aclose()

    app = FastAPI(
        title="relatoria",
        version="0.1.0",
        summary="Asynchronous report generation: request, watch, download.",
        lifespan=lifespan,
        # FastAPI's server and operation spans, through the provider configure_tracing
        # installed, when they are exported; otherwise RequestTelemetry makes each request's
        # trace current unrecorded (its ids still reach logs, messages and workers). Its
        # OpenTelemetry metrics and logs stay off: Prometheus and our own log lines cover
        # them, and its logs would record rejected input.
        telemetry={
            "tracing": bool(settings.otlp_endpoint),
            "operation_spans": True,
            "metrics": False,
            "logs": False,
            "exclude": _is_probe,  # probes and scrapes every few seconds: no spans
        },
    )
    app.state.resources = resources
    app.state.metrics = metrics
    app.state.streams = streams
    app.state.body_budget = BodyBudget(
        settings.bff_body_budget_bytes, settings.bff_body_wait_seconds
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # Outside the body limit, so its refusals count (and are logged) under their route.
    app.add_middleware(
        RequestTelemetry,
        metrics=metrics,
        traces_recorded=bool(settings.otlp_endpoint),
        routers=[app.router, *_ROUTERS],
        creation_paths=frozenset(
            route.path
            for router in _ROUTERS
            for route in router.routes
            if isinstance(route, APIRoute) and route.endpoint is views.create_report
        ),
    )
    # Outermost: what escapes every handler is answered here, not by the server.
    app.add_middleware(UnhandledErrors)
    for router in _ROUTERS:
        app.include_router(router)
    return app


# The event routes first: `/v1/reports/events` must not be taken for a report's id.
_ROUTERS = (
    event_views.router,
    views.router,
    webhook_views.router,
    legacy_views.router,
    health.router,
    metrics_router,
)


def _is_probe(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in PROBE_PATHS
