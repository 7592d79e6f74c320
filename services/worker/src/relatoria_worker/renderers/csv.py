"""CSV renderer: RFC 4180 text, UTF-8 with a BOM, streamed one row at a time.

This module is `relatoria_worker.renderers.csv`; its `import csv` still finds the
standard library because imports are absolute.
"""

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime
from typing import BinaryIO

from relatoria_shared.domain.errors import RenderError
from relatoria_shared.domain.table import Cell, TableData
from relatoria_worker.renderers.base import RenderStats, failures_as_render_errors
from relatoria_worker.renderers.cell_text import neutralise_formula

ENCODING = "utf-8-sig"
"""UTF-8 with a byte-order mark: without it Excel reads the file in a legacy code page."""


def format_cell(value: Cell) -> str:
    """The CSV text of one typed cell.

    Integers plainly, floats in their shortest round-tripping form (`repr`), booleans
    as `true`/`false`, dates and datetimes in ISO 8601, None as an empty field. Text is
    formula-neutralised (see `cell_text.neutralise_formula`); nothing else is, so a
    negative number stays a number.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise_formula(value)
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise RenderError(f"cannot write a {type(value).__name__} value to a CSV field")


class CsvRenderer:
    """Writes a `TableData` as CSV: a header of column labels, then one line per row.

    Quoting is minimal (RFC 4180: only fields holding a comma, quote or line break are
    quoted), lines end with CRLF. Rows are written as they are read, never buffered.
    """

    def render(self, table: TableData, destination: BinaryIO) -> RenderStats:
        """Write `table` as CSV into `destination` and count its data rows.

        `destination` stays open. Raises `RenderError` if the file cannot be produced;
        a `ReportError` raised while reading the rows passes through unchanged.
        """
        with failures_as_render_errors("CSV"):
            return self._render(table, destination)

    def _render(self, table: TableData, destination: BinaryIO) -> RenderStats:
        columns = list(table.columns)
        if not columns:
            raise RenderError("a table needs at least one column to be written as CSV")
        # errors="replace": a lone surrogate (possible in JSON input) cannot be encoded
        # as UTF-8 and would otherwise fail the whole report over one character.
        text = io.TextIOWrapper(destination, encoding=ENCODING, errors="replace", newline="")
        try:
            writer = csv.writer(
                text, dialect="excel", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n"
            )
            writer.writerow([neutralise_formula(column.label) for column in columns])
            row_count = 0
            for row in table.rows:
                row_count += 1
                _check_width(row, len(columns), row_count)
                writer.writerow([format_cell(value) for value in row])
            text.flush()
        finally:
            # Detaching hands the caller's file back open: a wrapper that is merely
            # dropped would close it on garbage collection.
            text.detach()
        return RenderStats(row_count=row_count, page_count=None)


def _check_width(row: Sequence[Cell], width: int, number: int) -> None:
    if len(row) != width:
        raise RenderError(f"row {number} has {len(row)} cells; the table has {width} columns")
