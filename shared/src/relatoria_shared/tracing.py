"""Traces across the queue: W3C trace context from the BFF's request, through the AMQP
message headers, into the worker's spans (claim, render, upload, finalize).

Spans are always made, so every log line can carry its `trace_id`. They are exported over
OTLP/HTTP when `RELATORIA_OTLP_ENDPOINT` is set, and dropped otherwise.
"""

from collections.abc import Mapping
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from relatoria_shared.settings import Settings

TRACER_NAME = "relatoria"


def configure_tracing(service: str, settings: Settings) -> TracerProvider:
    """Install the process's tracer provider; `shutdown()` it at exit to flush spans."""
    provider = TracerProvider(resource=Resource.create({"service.name": f"relatoria-{service}"}))
    if settings.otlp_endpoint:
        endpoint = f"{settings.otlp_endpoint.rstrip('/')}/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    return provider


def tracer() -> trace.Tracer:
    """relatoria's tracer (a no-op one until `configure_tracing` ran)."""
    return trace.get_tracer(TRACER_NAME)


def trace_headers() -> dict[str, str]:
    """The current trace context as message headers (`traceparent`, `tracestate`)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def context_from(headers: Mapping[str, Any] | None) -> Context:
    """The trace context a message's (or a request's) headers carry, if any."""
    carrier = {k: v for k, v in (headers or {}).items() if isinstance(v, str)}
    return propagate.extract(carrier)


def current_trace_id() -> str | None:
    """The current span's trace id as 32 hex digits, or None outside any trace."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
