"""An ASGI middleware that leaves a log trail per HTTP request: a log context that routes
fill in (`owner_id`, `request_id`), and one log line when the answer is sent.

The request's server span is FastAPI's own (its native OpenTelemetry support): it
continues the caller's W3C trace, and this line, like every line logged meanwhile,
carries that trace's id.
"""

import logging
import time
from collections.abc import Sequence

from starlette.routing import Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relatoria_bff.http_metrics import route_template
from relatoria_bff.metrics import METRICS_PATH
from relatoria_shared.logging_setup import log_context

log = logging.getLogger("relatoria_bff.http")

PROBE_PATHS = frozenset({"/healthz", "/readyz", METRICS_PATH})
"""Probes and scrapes, every few seconds: logged only at DEBUG, and not traced."""


class RequestTrail:
    """Log every HTTP request once, with the context its route bound."""

    def __init__(self, app: ASGIApp, routers: Sequence[Router]) -> None:
        self.app = app
        self.routers = routers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request inside its log context; log it on the way out."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status: int | None = None  # None: the client left before an answer started

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        with log_context():
            try:
                await self.app(scope, receive, send_noting_status)
            except Exception:
                if status is None:
                    status = 500  # what the server's error middleware will answer
                raise
            finally:
                fields: dict[str, object] = {
                    "method": scope["method"],
                    "route": route_template(self.routers, scope),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                }
                report_id = scope.get("path_params", {}).get("report_id")
                if report_id:
                    fields["request_id"] = report_id
                level = logging.DEBUG if scope["path"] in PROBE_PATHS else logging.INFO
                log.log(level, "http request", extra=fields)
