"""Routes of the live status events (Server-Sent Events): one report's, and all of the
caller's. Included before the report routes, so that `/v1/reports/events` is not taken
for a report id."""

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Request, Response
from sse_starlette import EventSourceResponse

from relatoria_bff.dependencies import Authenticated
from relatoria_bff.documented_errors import NOT_FOUND, UNAUTHORIZED, UNAVAILABLE, documented
from relatoria_bff.errors import ApiError
from relatoria_bff.reports import event_streams, service, waiting

router = APIRouter(tags=["reports"])

KEEPALIVE_SECONDS = 15
"""A comment this often keeps idle streams open through proxies (and tells a client
whose connection died)."""
SHUTDOWN_GRACE_SECONDS = 2.0
SEND_SECONDS = 30.0
"""A client that takes no event for this long is dropped (it reconnects, if alive)."""
STREAM_HEADERS = {
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",  # nginx (the chart's Ingress): pass each event on at once
}
STREAMS_UNSUPPORTED = {
    501: "`STREAMING_UNSUPPORTED`: this deployment (AWS Lambda behind API Gateway) cannot "
    "stream; use `GET /v1/reports/{id}?wait=N`",
}
_STREAM: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}
}
LastEventId = Annotated[str | None, Header(alias="Last-Event-ID")]


@router.get(
    "/v1/reports/events",
    response_class=EventSourceResponse,
    responses=_STREAM | documented(STREAMS_UNSUPPORTED, UNAUTHORIZED, UNAVAILABLE),
)
async def all_report_events(
    request: Request, caller: Authenticated, last_event_id: LastEventId = None
) -> EventSourceResponse:
    """Server-Sent Events of all the caller's reports: first those unfinished (and, given
    `Last-Event-ID`, those changed since), then each state change and progress update."""
    _check_streaming(request)
    since = event_streams.last_event_time(last_event_id)
    shutdown = anyio.Event()
    stream = event_streams.owner_reports(caller.resources, caller.owner, since, shutdown)
    return _response(stream, shutdown)


@router.get(
    "/v1/reports/{report_id}/events",
    response_class=EventSourceResponse,
    responses=_STREAM | documented(STREAMS_UNSUPPORTED, UNAUTHORIZED, NOT_FOUND, UNAVAILABLE),
)
async def report_events(
    request: Request, caller: Authenticated, report_id: str, last_event_id: LastEventId = None
) -> Response:
    """Server-Sent Events of one report: its current state first (also on a reconnect),
    then each change; the stream ends after its final state. A reconnect that already
    had the final state (its `Last-Event-ID`) is answered `204`: EventSource stops."""
    _check_streaming(request)
    document = await service.read_status(
        resources=caller.resources, owner_id=caller.owner, report_id=report_id
    )
    if waiting.finished(document) and last_event_id == document.body["updatedAt"]:
        return Response(status_code=204)
    shutdown = anyio.Event()
    return _response(event_streams.one_report(caller.resources, document, shutdown), shutdown)


def _check_streaming(request: Request) -> None:
    if not request.app.state.streams:
        raise ApiError(
            501,
            "STREAMING_UNSUPPORTED",
            "this deployment cannot stream events; use GET /v1/reports/{id}?wait=N",
        )


def _response(stream: event_streams.EventStream, shutdown: anyio.Event) -> EventSourceResponse:
    return EventSourceResponse(
        stream,
        headers=STREAM_HEADERS,
        ping=KEEPALIVE_SECONDS,
        send_timeout=SEND_SECONDS,
        shutdown_event=shutdown,
        shutdown_grace_period=SHUTDOWN_GRACE_SECONDS,
    )
