"""What every renderer offers: draw a `TableData` into a binary file, report what it drew."""

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice
from typing import Any, BinaryIO, Protocol

from relatoria_shared.domain.errors import RenderError, ReportError
from relatoria_shared.domain.table import TableData


@dataclass(frozen=True)
class RenderStats:
    """Facts about a rendered artifact, recorded with the request."""

    row_count: int
    page_count: int | None = None
    sheet_count: int | None = None


class Renderer(Protocol):
    """Draws a table into `destination` (a binary file open for writing).

    Rows may be a one-pass iterator: a renderer reads them once, in order, and must not
    hold them all in memory. It raises `relatoria_shared.domain.errors.RenderError` for
    anything the data itself makes impossible.
    """

    writes_in_order: bool
    """True if the file is written front to back as rows arrive and never rewritten, so
    its finished part can be uploaded while the rest is rendered."""

    def render(self, table: TableData, destination: BinaryIO) -> RenderStats:
        """Render `table` into `destination` and return what was drawn."""
        ...


@contextmanager
def failures_as_render_errors(file_kind: str) -> Iterator[None]:
    """Let report errors (raised by the row source) through; turn any other failure into a
    `RenderError` that names the file kind and the exception type, never library text."""
    try:
        yield
    except ReportError:
        raise
    except Exception as exc:
        raise RenderError(f"could not write the {file_kind} file ({type(exc).__name__})") from exc


BATCH_ROWS = 1000
"""Rows read and converted together: enough to pay per-column work once per many cells,
few enough that memory stays flat whatever the row count."""

NONE_TYPE = type(None)


def row_batches(
    rows: Iterable[Sequence[Any]], width: int, size: int = BATCH_ROWS
) -> Iterator[list[Sequence[Any]]]:
    """Read `rows` (once, in order) in lists of at most `size`, each row checked to have
    `width` cells; a row that has not is a `RenderError` naming its 1-based number."""
    source = iter(rows)
    done = 0
    while batch := list(islice(source, size)):
        if set(map(len, batch)) != {width}:  # one C-level pass; the loop below is rare
            for offset, row in enumerate(batch, start=done + 1):
                if len(row) != width:
                    raise RenderError(
                        f"row {offset} has {len(row)} cells; the table has {width} columns"
                    )
        done += len(batch)
        yield batch


def value_types(column: Sequence[Any]) -> set[type]:
    """The exact types of the values of one column of a batch (None's type included).

    Exact types, not `isinstance`: `bool` is not taken for an `int`, nor a `str`
    subclass for a plain `str`; anything unexpected takes a renderer's careful path.
    """
    return set(map(type, column))


BOOLEAN_TEXT = {True: "true", False: "false"}
"""How text formats (CSV, PDF) write booleans."""


def iso_texts(column: Sequence[Any], careful: Callable[[Sequence[Any]], list[str]]) -> list[str]:
    """ISO 8601 texts of a column holding only datetimes or only dates; any other column
    (None values, mixed or unexpected types) is left to the renderer's `careful` path."""
    types = value_types(column)
    if types == {datetime}:
        return list(map(datetime.isoformat, column))
    if types == {date}:
        return list(map(date.isoformat, column))
    return careful(column)
