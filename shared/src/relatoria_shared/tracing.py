"""Traces across the queue: W3C trace context from the BFF's request, through the AMQP
message headers, into the worker's spans (claim, render, upload, finalize).

Spans are always made, so every log line can carry its `trace_id`. They are recorded and
exported over OTLP/HTTP when `RELATORIA_OTLP_ENDPOINT` is set; otherwise they are not
sampled: their ids still travel (logs, messages, stored requests) but nothing is recorded,
which costs a fraction of a recorded span.
"""

import contextlib
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from relatoria_shared.settings import Settings

TRACER_NAME = "relatoria"
EXPORT_TIMEOUT_SECONDS = 5
"""Bounds an export, so flushing at shutdown fits in a pod's grace period."""

# Messages carry `traceparent` (and `tracestate`) only: never a caller's baggage.
_PROPAGATOR = TraceContextTextMapPropagator()
# A proxy until `configure_tracing` installs the provider, then that provider's tracer:
# asking the provider for a tracer per span would build a new one each time.
_TRACER = trace.get_tracer(TRACER_NAME)


def configure_tracing(service: str, settings: Settings) -> TracerProvider:
    """Install the process's tracer provider; `shutdown()` it at exit to flush spans."""
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"relatoria-{service}"}),
        sampler=ParentBased(ALWAYS_ON) if settings.otlp_endpoint else ALWAYS_OFF,
    )
    if settings.otlp_endpoint:
        # Imported only here: the exporter and protobuf cost a process that exports
        # nothing over 1 MB of memory.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )

        endpoint = f"{settings.otlp_endpoint.rstrip('/')}/v1/traces"
        exporter = OTLPSpanExporter(endpoint=endpoint, timeout=EXPORT_TIMEOUT_SECONDS)
        provider.add_span_processor(
            BatchSpanProcessor(exporter, export_timeout_millis=EXPORT_TIMEOUT_SECONDS * 1000)
        )
    trace.set_tracer_provider(provider)
    return provider


@contextlib.contextmanager
def span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    context: Context | None = None,
    attributes: Mapping[str, str | int] | None = None,
) -> Iterator[Span]:
    """A current span of relatoria's that records a failure by its type only: exception
    messages can carry report data or connection strings, which traces must not."""
    with _TRACER.start_as_current_span(
        name,
        context=context,
        kind=kind,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as current:
        try:
            yield current
        except Exception as exc:
            current.set_attribute("error.type", type(exc).__qualname__)
            current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


def past_span(name: str, started_at: datetime | None) -> None:
    """Record `name` as a finished child of the current span, begun at `started_at` (a
    step timed by another clock, such as a claim PostgreSQL stamped)."""
    start = int(started_at.timestamp() * 1e9) if started_at else None
    _TRACER.start_span(name, start_time=start).end()


def trace_headers() -> dict[str, str]:
    """The current trace context as message headers (`traceparent`, `tracestate`)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier


def context_from(headers: Mapping[str, Any] | None) -> Context:
    """The trace context a message's headers carry, if any."""
    carrier = {k: v for k, v in (headers or {}).items() if isinstance(v, str)}
    return _PROPAGATOR.extract(carrier)


@contextlib.contextmanager
def unrecorded_trace(headers: Mapping[str, Any]) -> Iterator[None]:
    """Make the trace `headers` carry (`traceparent`), or a new one, current without
    recording a span: ids for log lines and messages, at a fraction of a span's cost. For
    a process that exports no spans."""
    parent = trace.get_current_span(_PROPAGATOR.extract(headers)).get_span_context()
    ids = RandomIdGenerator()
    trace_id = parent.trace_id if parent.is_valid else ids.generate_trace_id()
    current = NonRecordingSpan(
        SpanContext(
            trace_id, ids.generate_span_id(), is_remote=False, trace_flags=parent.trace_flags
        )
    )
    token = context.attach(trace.set_span_in_context(current))
    try:
        yield
    finally:
        context.detach(token)


def current_trace_id() -> str | None:
    """The current span's trace id as 32 hex digits, or None outside any trace."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
