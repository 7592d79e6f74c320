"""An ASGI middleware that leaves a trail per HTTP request: a server span that continues
the caller's W3C trace (and that the published job's spans descend from), a log context
that routes fill in (`owner_id`, `request_id`), and one log line when the answer is sent.
"""

import logging
import time

from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relatoria_shared.logging_setup import log_context
from relatoria_shared.tracing import context_from, tracer

log = logging.getLogger("relatoria_bff.http")

# Probes and scrapes arrive every few seconds: their lines only at DEBUG.
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def route_of(scope: Scope) -> str:
    """The path template of the route that served `scope` (bounded), or `unmatched`."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class RequestTrail:
    """Trace and log every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request inside its span and log context."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        status = 500  # what the client sees if the app dies before answering

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        with (
            tracer().start_as_current_span(
                method, context=context_from(headers), kind=SpanKind.SERVER
            ) as span,
            log_context(),
        ):
            try:
                await self.app(scope, receive, send_noting_status)
            finally:
                route = route_of(scope)
                span.update_name(f"{method} {route}")
                span.set_attributes(
                    {
                        "http.request.method": method,
                        "http.route": route,
                        "http.response.status_code": status,
                    }
                )
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                level = logging.DEBUG if scope["path"] in _QUIET_PATHS else logging.INFO
                fields: dict[str, object] = {
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                }
                report_id = scope.get("path_params", {}).get("report_id")
                if report_id:
                    fields["request_id"] = report_id
                log.log(level, "http request", extra=fields)
