"""What every renderer offers: draw a `TableData` into a binary file, report what it drew."""

from dataclasses import dataclass
from typing import BinaryIO, Protocol

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
