"""XLSX renderer: one streamed worksheet with a bold, frozen, filterable header."""

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import suppress
from datetime import UTC, date, datetime
from itertools import chain, islice
from typing import Any, BinaryIO
from zipfile import ZIP_DEFLATED, ZipFile

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

from relatoria_shared.domain.errors import RenderError
from relatoria_shared.domain.table import Cell, Column, TableData
from relatoria_worker.renderers.base import RenderStats, failures_as_render_errors
from relatoria_worker.renderers.cell_text import strip_xml_illegal

DATE_FORMAT = "yyyy-mm-dd"
"""Excel number format of `date` cells."""

DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
"""Excel number format of `datetime` cells."""

FALLBACK_SHEET_TITLE = "Report"
"""Sheet name used when the report title leaves nothing usable."""

MAX_SHEET_TITLE = 31
_SHEET_TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
# Excel reserves this name for its change-tracking sheet.
_RESERVED_SHEET_TITLES = frozenset({"history"})
# Excel cannot store more characters in one cell; openpyxl would truncate silently.
_MAX_CELL_CHARS = 32_767


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
    rows, which are buffered and then written ahead of the rest of the stream; no
    other rows are held in memory.
    """

    def __init__(
        self, *, width_sample_rows: int = 200, min_width: int = 8, max_width: int = 60
    ) -> None:
        """Configure the column-width estimate: sample size and bounds, in characters."""
        if width_sample_rows < 0 or not 0 < min_width <= max_width:
            raise ValueError("need width_sample_rows >= 0 and 0 < min_width <= max_width")
        self._width_sample_rows = width_sample_rows
        self._min_width = min_width
        self._max_width = max_width

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
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(sanitise_sheet_title(table.title))
        try:
            return self._write(workbook, sheet, columns, table.rows, destination)
        except BaseException:
            _discard(sheet)
            raise

    def _write(
        self,
        workbook: Any,
        sheet: Any,
        columns: Sequence[Column],
        rows: Iterable[Sequence[Cell]],
        destination: BinaryIO,
    ) -> RenderStats:
        source = iter(rows)
        sample = list(islice(source, self._width_sample_rows))
        # Write-only sheets emit column widths and panes with the first row, so both
        # must be settled before anything is appended.
        for index, width in enumerate(self._column_widths(columns, sample), start=1):
            sheet.column_dimensions[get_column_letter(index)].width = width
        sheet.freeze_panes = "A2"
        stream = chain(sample, source)
        del sample  # the chain owns the buffered rows now and drops them once written

        sheet.append([_header_cell(sheet, column) for column in columns])
        row_count = 0
        for row in stream:
            row_count += 1
            if len(row) != len(columns):
                raise RenderError(
                    f"row {row_count} has {len(row)} cells; the table has {len(columns)} columns"
                )
            sheet.append([_data_cell(sheet, value) for value in row])

        # The sheet's tail (autoFilter included) is only written on save, so the filter
        # can cover exactly the rows that were streamed.
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{row_count + 1}"
        _save(workbook, destination)
        return RenderStats(row_count=row_count, page_count=None)

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


def _header_cell(sheet: Any, column: Column) -> Any:
    cell = _text_cell(sheet, column.label)
    cell.font = Font(bold=True)
    return cell


def _text_cell(sheet: Any, text: str) -> Any:
    cell = WriteOnlyCell(sheet, value=strip_xml_illegal(text)[:_MAX_CELL_CHARS])
    # openpyxl infers formulas ("=...") and error codes ("#N/A") from strings; forcing
    # the string type is what keeps untrusted text inert, so it is written verbatim.
    cell.data_type = "s"
    return cell


def _data_cell(sheet: Any, value: Cell) -> Any:
    """The value or cell to append for one typed table cell."""
    if value is None or isinstance(value, bool | int):
        # Plain values need no styling; openpyxl writes them through one reused cell.
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        # Excel has no NaN or infinity; a number cell holding one corrupts the file.
        return _text_cell(sheet, repr(value))
    if isinstance(value, str):
        return _text_cell(sheet, value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            # Excel has no time zones: store the instant in UTC, as a naive datetime.
            value = value.astimezone(UTC).replace(tzinfo=None)
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = DATETIME_FORMAT
        return cell
    if isinstance(value, date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = DATE_FORMAT
        return cell
    raise RenderError(f"cannot write a {type(value).__name__} value to an XLSX cell")
