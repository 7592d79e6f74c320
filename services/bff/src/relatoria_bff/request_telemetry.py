"""An ASGI middleware that counts, times and logs every HTTP request, by route template.

The route is matched here, before the app runs, against the app's own routes: a request
refused before routing (a body over the cap) still counts under its route, and any path
no route matches counts as `unmatched`, so a scan of random URLs adds no label values.
Refusals of report requests (a 4xx or 503 on a creation route) are counted by the
stable `code` of their JSON body. `/metrics` itself is served uncounted.

Each request also runs in a log context that routes fill in (`owner_id`, `request_id`),
and ends with one `http request` log line. Its server span is FastAPI's own (its native
OpenTelemetry support), so that line, like every line logged meanwhile, carries the
trace id.
"""

import json
import logging
import re
import time
from collections.abc import Sequence

from starlette.routing import Match, Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relatoria_bff.metrics import METRICS_PATH, BffMetrics
from relatoria_shared.logging_setup import log_context
from relatoria_shared.tracing import unrecorded_trace

log = logging.getLogger("relatoria_bff.http")

UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
_MAX_ERROR_BODY = 64 * 1024

PROBE_PATHS = frozenset({"/healthz", "/readyz", METRICS_PATH})
"""Probes and scrapes, every few seconds: logged only at DEBUG, and not traced."""


def route_template(routers: Sequence[Router], scope: Scope) -> str:
    """The path template of the route of `routers` that `scope` is for (one matching the
    path but not the method included: the app answers it 405), or `unmatched`."""
    partial = None
    routes = (route for router in routers for route in router.routes)
    for route in routes:
        if not isinstance(route, Route):
            continue  # e.g. an included router: its routes are in `routers` themselves
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route.path
        if match is Match.PARTIAL and partial is None:
            partial = route.path
    return partial or UNMATCHED


def error_code(body: bytes) -> str:
    """The `code` of an error body, or `OTHER` if it has none a metric can carry."""
    try:
        code = json.loads(body).get("code")
    except (ValueError, AttributeError):
        return "OTHER"
    return code if isinstance(code, str) and _CODE.match(code) else "OTHER"


def refusal(status: int) -> bool:
    """A status that refuses a report request: any 4xx, or 503 (a backing service down)."""
    return 400 <= status < 500 or status == 503


class RequestTelemetry:
    """Count and time requests into `metrics`, by the routes of `routers` (read at every
    request: routers included later count too); `creation_paths` are the routes whose
    refusals count as rejected reports."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: BffMetrics,
        routers: Sequence[Router],
        creation_paths: frozenset[str],
        traces_recorded: bool,
    ) -> None:
        """`traces_recorded`: FastAPI records each request's spans; otherwise the request's
        trace is made current here, unrecorded."""
        self.app = app
        self.metrics = metrics
        self.routers = routers
        self.creation_paths = creation_paths
        self.traces_recorded = traces_recorded
        # (method, path) -> template, for paths that are a route's whole template (no
        # parameters): bounded by the routes, and most requests skip the matching.
        self._static: dict[tuple[str, str], str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request in its log context, noting its status (and a refusal's
        code) on the way out."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with log_context():
            if self.traces_recorded:
                await self._observe(scope, receive, send)
                return
            with unrecorded_trace(_trace_headers(scope)):
                await self._observe(scope, receive, send)

    async def _observe(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        route = self._route_of(method, scope)
        creating = method == "POST" and route in self.creation_paths
        status: int | None = None  # None: the client left before an answer started
        refused = False
        error_body = bytearray()

        async def noting_status(message: Message) -> None:
            nonlocal status, refused
            if message["type"] == "http.response.start":
                status = message["status"]
                refused = creating and refusal(message["status"])
            elif refused and len(error_body) < _MAX_ERROR_BODY:
                error_body.extend(message.get("body", b""))
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, noting_status)
        except Exception:
            if status is None:
                status = 500  # what the server's error middleware will answer
            raise
        finally:
            elapsed = time.perf_counter() - started
            if status is not None and scope["path"] != METRICS_PATH:
                self.metrics.http_requests.labels(method, route, str(status)).inc()
                self.metrics.http_duration.labels(method, route).observe(elapsed)
                if refused:
                    self.metrics.reports_rejected.labels(error_code(bytes(error_body))).inc()
            _log_request(scope, method, route, status, elapsed)

    def _route_of(self, method: str, scope: Scope) -> str:
        path = scope["path"]
        known = self._static.get((method, path))
        if known is not None:
            return known
        route = route_template(self.routers, scope)
        if route == path:  # a template without parameters: the path names it alone
            self._static[(method, path)] = route
        return route


def _trace_headers(scope: Scope) -> dict[str, str]:
    for name, value in scope["headers"]:
        if name == b"traceparent":
            return {"traceparent": value.decode("latin-1")}
    return {}


def _log_request(scope: Scope, method: str, route: str, status: int | None, elapsed: float) -> None:
    level = logging.DEBUG if scope["path"] in PROBE_PATHS else logging.INFO
    if not log.isEnabledFor(level):
        return
    fields: dict[str, object] = {
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": round(elapsed * 1000, 1),
    }
    report_id = scope.get("path_params", {}).get("report_id")
    if report_id:
        fields["request_id"] = report_id
    log.log(level, "http request", extra=fields)
