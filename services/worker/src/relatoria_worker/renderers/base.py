"""What every renderer offers: draw a `TableData` into a binary file, report what it drew."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from relatoria_shared.domain.errors import RenderError, ReportError
from relatoria_shared.domain.table import TableData


@dataclass(frozen=True)
class RenderStats:
    """Facts about a rendered artifact, recorded with the request."""

    row_count: int
    page_count: int | None = None


class Renderer(Protocol):
    """Draws a table into `destination` (a binary file open for writing).

    Rows may be a one-pass iterator: a renderer reads them once, in order, and must not
    hold them all in memory. It raises `relatoria_shared.domain.errors.RenderError` for
    anything the data itself makes impossible.
    """

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
