"""The one logging setup of both services: JSON lines in production, readable text in dev.

Every line carries the context bound with `log_context` (the request id, owner, worker and
attempt of the work in hand) and the current `trace_id`, so one request's trail can be
read across the BFF and the workers. Callers log ids, codes and counts: never tokens,
connection strings or report data; the messages of database errors, which may quote report
data, are withheld from logged tracebacks (`exception_text`).
"""

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TextIO

from relatoria_shared.exception_text import format_exception
from relatoria_shared.tracing import current_trace_id

_CONTEXT: ContextVar[MappingProxyType[str, object]] = ContextVar(
    "relatoria_log_context", default=MappingProxyType({})
)


@contextlib.contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Add `fields` to every record logged in this context (this task, what it awaits and
    the tasks it starts)."""
    token = _CONTEXT.set(MappingProxyType({**_CONTEXT.get(), **fields}))
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def bind_log_context(**fields: object) -> None:
    """Add `fields` to the context for the rest of the enclosing `log_context` block (a
    request's, say), including what logs after this returns."""
    _CONTEXT.set(MappingProxyType({**_CONTEXT.get(), **fields}))


def _context_fields() -> dict[str, object]:
    fields = dict(_CONTEXT.get())
    trace_id = current_trace_id()
    if trace_id:
        fields["trace_id"] = trace_id
    return fields


_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, service, event, and the record's extras."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        """Render `record` as a JSON line."""
        document: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "event": record.getMessage(),
        }
        document.update(_context_fields())
        document.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info and record.exc_info[1] is not None:
            document["exception"] = format_exception(record.exc_info[1])
        return json.dumps(document, default=str)


class ConsoleFormatter(logging.Formatter):
    """`time level service event key=value …` for people reading a terminal."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        """Render `record` as one readable line."""
        fields = _context_fields() | {k: v for k, v in vars(record).items() if k not in _RESERVED}
        extras = " ".join(f"{k}={v}" for k, v in fields.items())
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        line = f"{stamp} {record.levelname:<7} {self.service:<6} {record.getMessage()} {extras}"
        if record.exc_info and record.exc_info[1] is not None:
            line += "\n" + format_exception(record.exc_info[1])
        return line.rstrip()


def configure_logging(
    service: str, level: str = "INFO", fmt: str = "json", stream: TextIO = sys.stdout
) -> None:
    """Send every log record of the process to `stream` (stdout) in the chosen format."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(service) if fmt == "json" else ConsoleFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Library chatter that would otherwise drown the job transitions.
    for noisy in ("aiormq", "aio_pika", "botocore", "boto3", "urllib3", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
