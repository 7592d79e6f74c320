"""The BFF's Prometheus metrics, and the `GET /metrics` route that serves them.

`BffMetrics` holds every metric on a registry of its own: `create_app` builds one (or is
given one), the HTTP middleware and the dispatcher count into it, `/metrics` serves it.
Labels are bounded: routes are path templates (`unmatched` for any other path), codes
and report types come from the code, never from the caller; no owner or request id is
ever a label.
"""

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from relatoria_bff.status_watch import StatusWatch
from relatoria_shared.domain.errors import ErrorCode
from relatoria_shared.domain.report import ReportRecord
from relatoria_shared.metrics_registry import process_registry
from relatoria_shared.transitions.announce import Transition

METRICS_PATH = "/metrics"

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
"""Seconds; `POST …?wait=N` may hold a request for N seconds."""


class BffMetrics:
    """Every metric the BFF exports, on `registry`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        """Without a registry, a fresh one with the process's own metrics (CPU, memory)."""
        if registry is None:
            registry = process_registry()
        self.registry = registry
        self.http_requests = Counter(
            "relatoria_http_requests_total",
            "HTTP requests answered, by route template (`unmatched`: no route) and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.http_duration = Histogram(
            "relatoria_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.reports_accepted = Counter(
            "relatoria_reports_accepted_total",
            "Report requests recorded (idempotent replays not counted).",
            ["report_type", "format"],
            registry=registry,
        )
        self.reports_rejected = Counter(
            "relatoria_reports_rejected_total",
            "Report requests refused with a 4xx or 503, by the answer's error code.",
            ["code"],
            registry=registry,
        )

        self.status_listeners = Gauge(
            "relatoria_bff_status_listeners",
            "Requests of this process waiting for reports to change (long polls).",
            registry=registry,
        )
        self.status_feed_up = Gauge(
            "relatoria_bff_status_feed_up",
            "1 while this process follows the status feed; 0 while its waiters re-read "
            "the status every 2 s instead.",
            registry=registry,
        )

    def observe(self, watch: StatusWatch) -> None:
        """Report `watch`'s listeners and whether it follows the feed, when scraped."""
        self.status_listeners.set_function(lambda: watch.listeners)
        self.status_feed_up.set_function(lambda: 1 if watch.healthy else 0)

    def transitioned(
        self,
        transition: Transition,
        record: ReportRecord,
        code: ErrorCode | None = None,
        waited_seconds: float | None = None,
    ) -> None:
        """Count the BFF's state changes: newly recorded requests (see `Transition`)."""
        if transition is Transition.ACCEPTED:
            self.reports_accepted.labels(record.report_type, record.format.value).inc()


router = APIRouter(tags=["health"])


@router.get(METRICS_PATH, include_in_schema=False)
async def metrics(request: Request) -> Response:
    """This process's metrics in Prometheus' text format; needs no backing service."""
    registry: CollectorRegistry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
