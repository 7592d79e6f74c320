"""XLSX renderer: streamed worksheets, each with a bold, frozen, filterable header.

A worksheet holds at most 1,048,576 rows (Excel's limit); a longer report continues on
further sheets, each with the same header and column widths.

Speed: openpyxl's write-only `append` already writes plain values (numbers, booleans,
dates, text) through one reused cell; a `WriteOnlyCell` costs several times more. So
rows are read in batches (`base.row_batches`) and checked column by column, and a cell
is built only for the values that need one: text openpyxl would take for a formula
("=...") or an error code ("#N/A"), or that XML cannot hold, and non-finite numbers.
Dates and datetimes are given as they are (aware datetimes first converted to naive
UTC): openpyxl gives them date number formats itself (`DATE_FORMAT`, `DATETIME_FORMAT`).
Which values need nothing is decided from their exact types in the batch, so a value of
an unexpected type always takes the careful, per-cell path (`_data_cell`), which
refuses what it cannot write.
"""

import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import chain, islice
from operator import attrgetter, itemgetter
from typing import Any, BinaryIO
from zipfile import ZIP_DEFLATED, ZipFile

from relatoria_shared.domain.errors import RenderError
from relatoria_shared.domain.table import Cell, Column, ColumnType, TableData
from relatoria_worker.renderers.base import (
    NONE_TYPE,
    RenderStats,
    failures_as_render_errors,
    row_batches,
    value_types,
)
from relatoria_worker.renderers.cell_text import any_xml_illegal, strip_xml_illegal
from relatoria_worker.renderers.openpyxl_parts import (
    ExcelWriter,
    Font,
    Workbook,
    WriteOnlyCell,
    get_column_letter,
)

DATE_FORMAT = "yyyy-mm-dd"
"""Excel number format of `date` cells: the one openpyxl gives a plain `date` value."""

DATETIME_FORMAT = "yyyy-mm-dd h:mm:ss"
"""Excel number format of `datetime` cells: the one openpyxl gives a plain `datetime`
value. (A format of our own would need a styled cell per value, about 6% of the time of
a typical report; the hour simply shows without a leading zero.)"""

FALLBACK_SHEET_TITLE = "Report"
"""Sheet name used when the report title leaves nothing usable."""

MAX_SHEET_TITLE = 31
_SHEET_TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
# Excel reserves this name for its change-tracking sheet.
_RESERVED_SHEET_TITLES = frozenset({"history"})
# Excel cannot store more characters in one cell; openpyxl would truncate silently.
_MAX_CELL_CHARS = 32_767

MAX_SHEET_ROWS = 1_048_576
"""Excel's row limit for one worksheet, header row included."""


def sanitise_sheet_title(title: str) -> str:
    """Turn a report title into a name Excel accepts for a worksheet.

    Excel's rules: 1-31 characters, none of ``[ ] : * ? / \\``, no apostrophe at
    either end, not "History". Control characters are dropped too. Falls back to
    "Report" when nothing usable is left.
    """
    name = _SHEET_TITLE_FORBIDDEN.sub(" ", strip_xml_illegal(title))
    name = " ".join(name.split())  # tabs/newlines would show as odd blanks in the tab
    name = name.strip("'")[:MAX_SHEET_TITLE].rstrip(" '")
    if not name or name.casefold() in _RESERVED_SHEET_TITLES:
        return FALLBACK_SHEET_TITLE
    return name


class XlsxRenderer:
    """Writes a `TableData` as an .xlsx workbook, streaming rows (openpyxl write-only mode).

    Column widths are estimated from the header and the first `width_sample_rows`
    rows, which are buffered and then written ahead of the rest of the stream; beyond
    that, rows are held a bounded batch at a time. Each sheet holds at most
    `rows_per_sheet` data rows (by default as many as Excel allows).
    """

    writes_in_order = False  # the workbook is zipped into the file at the end

    def __init__(
        self,
        *,
        width_sample_rows: int = 200,
        min_width: int = 8,
        max_width: int = 60,
        rows_per_sheet: int = MAX_SHEET_ROWS - 1,
    ) -> None:
        """Configure the column-width estimate (sample size and bounds, in characters)
        and how many data rows a sheet takes before the next one is started."""
        if width_sample_rows < 0 or not 0 < min_width <= max_width:
            raise ValueError("need width_sample_rows >= 0 and 0 < min_width <= max_width")
        if not 0 < rows_per_sheet < MAX_SHEET_ROWS:
            raise ValueError(f"rows_per_sheet must be between 1 and {MAX_SHEET_ROWS - 1}")
        self._width_sample_rows = width_sample_rows
        self._min_width = min_width
        self._max_width = max_width
        self._rows_per_sheet = rows_per_sheet

    def render(self, table: TableData, destination: BinaryIO) -> RenderStats:
        """Write `table` as an XLSX workbook into `destination` and count its data rows.

        Raises `RenderError` if the workbook cannot be produced; a `ReportError` raised
        while reading the rows passes through unchanged.
        """
        with failures_as_render_errors("XLSX"):
            return self._render(table, destination)

    def _render(self, table: TableData, destination: BinaryIO) -> RenderStats:
        columns = list(table.columns)
        if not columns:
            raise RenderError("a table needs at least one column to be written as XLSX")
        sheets = _Sheets(Workbook(write_only=True), sanitise_sheet_title(table.title), columns)
        try:
            return self._write(sheets, columns, table.rows, destination)
        except BaseException:
            sheets.discard()
            raise

    def _write(
        self,
        sheets: "_Sheets",
        columns: Sequence[Column],
        rows: Iterable[Sequence[Cell]],
        destination: BinaryIO,
    ) -> RenderStats:
        source = iter(rows)
        sample = list(islice(source, self._width_sample_rows))
        # Write-only sheets emit column widths and panes with the first row, so both
        # must be settled before anything is appended.
        sheets.widths = list(self._column_widths(columns, sample))
        stream = chain(sample, source)
        del sample  # the chain owns the buffered rows now and drops them once written

        converters = [_CONVERTERS.get(column.type, _careful) for column in columns]
        sheet = sheets.open_next()
        room = self._rows_per_sheet
        row_count = 0
        for batch in row_batches(stream, len(columns)):
            row_count += len(batch)
            start = 0
            while start < len(batch):
                if not room:
                    sheet = sheets.open_next()
                    room = self._rows_per_sheet
                piece = batch if start == 0 and len(batch) <= room else batch[start : start + room]
                _append(sheet, converters, piece)
                sheets.rows_in_current += len(piece)
                start += len(piece)
                room -= len(piece)

        sheets.close_current()
        _save(sheets.workbook, destination)
        return RenderStats(row_count=row_count, page_count=None, sheet_count=len(sheets.sheets))

    def _column_widths(
        self, columns: Sequence[Column], sample: Sequence[Sequence[Cell]]
    ) -> Iterator[float]:
        for index, column in enumerate(columns):
            # +2 for the bold header and the autofilter's drop-down button.
            widest = len(column.label) + 2
            for row in sample:
                if index < len(row):
                    widest = max(widest, _display_width(row[index]))
            yield float(min(max(widest + 1, self._min_width), self._max_width))


class _Sheets:
    """The worksheets of one workbook, opened one after another as each fills up."""

    def __init__(self, workbook: Any, title: str, columns: Sequence[Column]) -> None:
        self.workbook = workbook
        self.title = title
        self.columns = columns
        self.widths: list[float] = []
        self.sheets: list[Any] = []
        self.rows_in_current = 0

    def open_next(self) -> Any:
        """Close the current sheet, if any, and start the next one: widths, frozen
        header row, header."""
        if self.sheets:
            self.close_current()
        sheet = self.workbook.create_sheet(self._next_name())
        self.sheets.append(sheet)
        self.rows_in_current = 0
        for index, width in enumerate(self.widths, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = width
        sheet.freeze_panes = "A2"
        bold = Font(bold=True)
        header = []
        for column in self.columns:
            cell = _text_cell(sheet, column.label)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        return sheet

    def close_current(self) -> None:
        """Settle the current sheet's autofilter over the rows it received. (The tail of
        a write-only sheet, autoFilter included, is only written on save.)"""
        last = get_column_letter(len(self.columns))
        self.sheets[-1].auto_filter.ref = f"A1:{last}{self.rows_in_current + 1}"

    def _next_name(self) -> str:
        """The sanitised title, then "<title> (2)", "<title> (3)"..., within 31 characters
        and unique (Excel compares sheet names case-insensitively)."""
        if not self.sheets:
            return self.title
        taken = {sheet.title.casefold() for sheet in self.sheets}
        number = len(self.sheets) + 1
        while True:
            suffix = f" ({number})"
            name = self.title[: MAX_SHEET_TITLE - len(suffix)].rstrip() + suffix
            if name.casefold() not in taken:
                return name
            number += 1  # the trimmed title ended like this suffix: "x... (2)" was taken

    def discard(self) -> None:
        """Delete every sheet's temp file after a failed render."""
        for sheet in self.sheets:
            _discard(sheet)


def _append(sheet: Any, converters: Sequence["_Converter"], rows: Sequence[Sequence[Any]]) -> None:
    """Append `rows` to `sheet`, each column converted only as far as it needs to be."""
    columns = zip(converters, zip(*rows, strict=True), strict=True)
    converted = [convert(sheet, column) for convert, column in columns]
    append = sheet.append
    for row in zip(*converted, strict=True):
        append(row)


def _save(workbook: Any, destination: BinaryIO) -> None:
    """`Workbook.save`, minus its one flaw: a failed write leaves the zip archive open.

    That archive's finaliser would later try to write to `destination` again and
    report an "exception ignored" far from here; closing it ourselves avoids that.
    """
    archive = ZipFile(destination, "w", ZIP_DEFLATED, allowZip64=True)
    try:
        workbook.properties.modified = datetime.now(UTC).replace(tzinfo=None)
        ExcelWriter(workbook, archive).save()  # closes the archive when it succeeds
    except BaseException:
        with suppress(Exception):
            archive.close()  # raises again on a broken destination, but lets go of it
        raise


def _discard(sheet: Any) -> None:
    """Delete the temp file a write-only sheet streams into, after a failed render.

    openpyxl removes it only on a successful save or at interpreter exit; a long-lived
    worker must not collect one per failed report. Closing the sheet first ends its
    internal generators cleanly, so nothing complains later when they are collected.
    """
    with suppress(Exception):
        sheet.close()
    writer = getattr(sheet, "_writer", None)
    if writer is not None:
        with suppress(Exception):
            writer.cleanup()


def _display_width(value: Cell) -> int:
    """Roughly how many characters `value` shows as in a cell."""
    if value is None:
        return 0
    if isinstance(value, str):
        # A multi-line cell is as wide as its longest line.
        return max((len(line) for line in value.splitlines()), default=0)
    if isinstance(value, bool):
        return len("FALSE")
    if isinstance(value, datetime):
        return len("yyyy-mm-dd hh:mm:ss")
    if isinstance(value, date):
        return len("yyyy-mm-dd")
    return len(str(value))


def _text_cell(sheet: Any, text: str) -> Any:
    cell = WriteOnlyCell(sheet, value=strip_xml_illegal(text)[:_MAX_CELL_CHARS])
    # openpyxl infers formulas ("=...") and error codes ("#N/A") from strings; forcing
    # the string type is what keeps untrusted text inert, so it is written verbatim.
    cell.data_type = "s"
    return cell


# What openpyxl would not keep as plain text: "=..." becomes a formula, "#N/A" and the
# other error codes an error cell. Every error code starts with "#"; any text starting
# with "=" or "#" is given a cell (a few more than strictly needed, which costs nothing).
_INFERRED_STARTS = frozenset({"=", "#"})
_FIRST_CHARACTER = itemgetter(0)
_TIME_ZONE = attrgetter("tzinfo")


def _plain_text(text: str) -> bool:
    """Whether openpyxl writes `text` verbatim as text when given it as a plain value.

    It then also caps it at 32,767 characters, exactly as `_text_cell` does.
    """
    return text[:1] not in _INFERRED_STARTS and not any_xml_illegal((text,))


def _plain_texts(texts: Sequence[str | None]) -> bool:
    """`_plain_text` for a whole column of a batch, in a few C-level passes."""
    firsts = "".join(map(_FIRST_CHARACTER, filter(None, texts)))
    return _INFERRED_STARTS.isdisjoint(firsts) and not any_xml_illegal(texts)


def _finite(value: float | Decimal) -> bool:
    if isinstance(value, Decimal) and not value.is_finite():
        return False  # NaN, signalling NaN (which float() refuses) or infinity
    return math.isfinite(value)  # a Decimal beyond float range would be written as "inf"


def _all_finite(values: Sequence[Any]) -> bool:
    """Whether every number of `values` (None and zeros skipped) is finite as a float."""
    try:
        return all(map(math.isfinite, filter(None, values)))
    except (ValueError, OverflowError):  # a signalling NaN, an int beyond float range
        return False


def _naive(datetimes: Sequence[datetime | None]) -> bool:
    return set(map(_TIME_ZONE, filter(None, datetimes))) <= {None}


def _data_cell(sheet: Any, value: object) -> Any:
    """The value or cell to append for one table cell: the careful, per-cell path."""
    if value is None or isinstance(value, bool | int):
        # Plain values need no styling; openpyxl writes them through one reused cell.
        return value
    if isinstance(value, float | Decimal):
        if _finite(value):
            return value
        # Excel has no NaN or infinity; a number cell holding one corrupts the file.
        return _text_cell(sheet, repr(value) if isinstance(value, float) else str(value))
    if isinstance(value, str):
        return value if _plain_text(value) else _text_cell(sheet, value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        # Excel has no time zones: store the instant in UTC, as a naive datetime.
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, date):  # datetimes too: openpyxl gives them their date formats
        return value
    raise RenderError(f"cannot write a {type(value).__name__} value to an XLSX cell")


# Column converters: each takes the sheet and one column of a batch and returns what
# to append for it, the column itself when openpyxl can take every value as it is.
_Converter = Callable[[Any, Sequence[Any]], Sequence[Any]]
_TEXT_TYPES = frozenset({str, NONE_TYPE})
_INTEGRAL_TYPES = frozenset({int, bool, NONE_TYPE})
_NUMBER_TYPES = frozenset({int, bool, float, Decimal, NONE_TYPE})
_BOOLEAN_TYPES = frozenset({bool, NONE_TYPE})
_DATE_TYPES = frozenset({date, NONE_TYPE})
_DATETIME_TYPES = frozenset({datetime, NONE_TYPE})


def _careful(sheet: Any, column: Sequence[Any]) -> list[Any]:
    return [_data_cell(sheet, value) for value in column]


def _text(sheet: Any, column: Sequence[Any]) -> Sequence[Any]:
    if value_types(column) <= _TEXT_TYPES and _plain_texts(column):
        return column
    return _careful(sheet, column)


def _number(sheet: Any, column: Sequence[Any]) -> Sequence[Any]:
    types = value_types(column)
    if types <= _INTEGRAL_TYPES or (types <= _NUMBER_TYPES and _all_finite(column)):
        return column
    return _careful(sheet, column)


def _boolean(sheet: Any, column: Sequence[Any]) -> Sequence[Any]:
    return column if value_types(column) <= _BOOLEAN_TYPES else _careful(sheet, column)


def _date(sheet: Any, column: Sequence[Any]) -> Sequence[Any]:
    return column if value_types(column) <= _DATE_TYPES else _careful(sheet, column)


def _datetime(sheet: Any, column: Sequence[Any]) -> Sequence[Any]:
    if value_types(column) <= _DATETIME_TYPES and _naive(column):
        return column
    return _careful(sheet, column)  # aware datetimes are converted there


_CONVERTERS: dict[ColumnType, _Converter] = {
    ColumnType.STRING: _text,
    ColumnType.INTEGER: _number,
    ColumnType.NUMBER: _number,
    ColumnType.BOOLEAN: _boolean,
    ColumnType.DATE: _date,
    ColumnType.DATETIME: _datetime,
}
