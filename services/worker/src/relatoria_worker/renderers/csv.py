"""CSV renderer: RFC 4180 text, UTF-8 with a BOM, streamed a batch of rows at a time.

This module is `relatoria_worker.renderers.csv`; its `import csv` still finds the
standard library because imports are absolute.

Speed: rows are read in batches (`base.row_batches`) and converted column by column.
A column whose values need nothing (numbers, None, text that cannot start a formula) is
handed to `csv.writer` as it is; only the columns that need it are mapped through a
converter. Which values need nothing is decided from their exact types in the batch,
never assumed from the column's declared type, so a value of an unexpected type always
takes the careful path (`format_cell`), which neutralises text and refuses what it
cannot write.
"""

import codecs
import csv
import functools
import io
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, BinaryIO

from relatoria_shared.domain.errors import RenderError
from relatoria_shared.domain.table import ColumnType, TableData
from relatoria_worker.renderers.base import (
    BOOLEAN_TEXT,
    NONE_TYPE,
    RenderStats,
    failures_as_render_errors,
    iso_texts,
    row_batches,
    value_types,
)
from relatoria_worker.renderers.cell_text import any_starts_like_formula, neutralise_formula

ENCODING = "utf-8-sig"
"""UTF-8 with a byte-order mark: without it Excel reads the file in a legacy code page.
(Written as the BOM followed by plain UTF-8, which is what this codec produces: the
plain codec lets `io.TextIOWrapper` encode in C instead of calling back into Python.)"""


def format_cell(value: object) -> str:
    """The CSV text of one typed cell.

    Integers plainly, floats in their shortest round-tripping form (`repr`), decimals
    as `str` gives them (`1234.50`), booleans as `true`/`false`, dates and datetimes in
    ISO 8601, None as an empty field. Text is formula-neutralised (see
    `cell_text.neutralise_formula`); nothing else is, so a negative number stays a
    number. Anything else is a `RenderError`.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise_formula(value)
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise RenderError(f"cannot write a {type(value).__name__} value to a CSV field")


# Column converters: each takes one column of a batch and returns what `csv.writer`
# must receive for it, the column itself when it can be written as is. The writer
# writes None as an empty field, floats with `repr` and everything else with `str`,
# which is exactly `format_cell` for the types let through untouched.
_Converter = Callable[[Sequence[Any]], Sequence[Any]]
_TEXT_TYPES = frozenset({str, NONE_TYPE})
_NUMBER_TYPES = frozenset({int, float, Decimal, NONE_TYPE})
_BOOLEAN_TYPES = frozenset({bool, NONE_TYPE})


def _careful(column: Sequence[Any]) -> list[str]:
    return list(map(format_cell, column))


def _text(column: Sequence[Any]) -> Sequence[Any]:
    if value_types(column) <= _TEXT_TYPES and not any_starts_like_formula(column):
        return column
    return _careful(column)


def _number(column: Sequence[Any]) -> Sequence[Any]:
    return column if value_types(column) <= _NUMBER_TYPES else _careful(column)


def _boolean(column: Sequence[Any]) -> Sequence[Any]:
    if value_types(column) <= _BOOLEAN_TYPES:
        return list(map(BOOLEAN_TEXT.get, column))  # None stays None: an empty field
    return _careful(column)


_temporal = functools.partial(iso_texts, careful=_careful)


_CONVERTERS: dict[ColumnType, _Converter] = {
    ColumnType.STRING: _text,
    ColumnType.INTEGER: _number,
    ColumnType.NUMBER: _number,
    ColumnType.BOOLEAN: _boolean,
    ColumnType.DATE: _temporal,
    ColumnType.DATETIME: _temporal,
}


class CsvRenderer:
    """Writes a `TableData` as CSV: a header of column labels, then one line per row.

    Quoting is minimal (RFC 4180: only fields holding a comma, quote or line break are
    quoted), lines end with CRLF. Rows are written as they are read, a bounded batch
    at a time.
    """

    writes_in_order = True

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
        converters: list[_Converter] = [_CONVERTERS.get(c.type, _careful) for c in columns]
        destination.write(codecs.BOM_UTF8)
        # errors="replace": a lone surrogate (possible in JSON input) cannot be encoded
        # as UTF-8 and would otherwise fail the whole report over one character.
        text = io.TextIOWrapper(destination, encoding="utf-8", errors="replace", newline="")
        try:
            writer = csv.writer(
                text, dialect="excel", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n"
            )
            writer.writerow([neutralise_formula(column.label) for column in columns])
            row_count = 0
            for batch in row_batches(table.rows, len(columns)):
                row_count += len(batch)
                columns_in = zip(converters, zip(*batch, strict=True), strict=True)
                converted = [convert(column) for convert, column in columns_in]
                writer.writerows(zip(*converted, strict=True))
            text.flush()
        finally:
            # Detaching hands the caller's file back open: a wrapper that is merely
            # dropped would close it on garbage collection.
            text.detach()
        return RenderStats(row_count=row_count, page_count=None)
