"""PDF renderer: streams a `TableData` onto A4 pages with reportlab's low-level canvas.

Why the canvas and not platypus: reports may stream millions of rows, and platypus tables
hold every row in memory and are several times slower. Rows are drawn as they arrive, a
bounded batch at a time; the first batch also sizes the columns.

Speed: cells are turned into text column by column (`_FORMATTERS`, checked against the
exact value types of the batch, as in the CSV renderer), and each column remembers how
its recent texts fit (`_ColumnFit`), so a repeated value is measured once; short ASCII
text that obviously fits is not measured at all. Text widths come from reportlab's C
accelerator (`rl-accel`) when it is installed, as it is in the worker.

Memory: reportlab keeps every finished page until `save()`; `_Canvas` compresses each
page's content as soon as the page is done, so what is held grows by the compressed
size of a page (a few KB), not by its text. `save()` would then assemble the whole file
in memory a second and third time (a list of its pieces, then their join); the pages'
streams write it straight to the destination instead (`_PageStream`), so the peak is
about the compressed pages alone; `PdfRenderer(max_rows=...)` bounds them.
"""

import functools
import math
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date
from decimal import Decimal
from itertools import chain, islice
from pathlib import Path
from typing import Any, BinaryIO

from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from relatoria_shared.domain.errors import RenderError, TooLargeError
from relatoria_shared.domain.table import Column, ColumnType, TableData
from relatoria_worker.renderers.base import (
    BOOLEAN_TEXT,
    RenderStats,
    failures_as_render_errors,
    iso_texts,
    row_batches,
    value_types,
)

FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"
_FONTS_DIR = Path(__file__).parent / "fonts"
_TOTAL_PAGES_FORM = "totalPages"
_SAMPLE_ROWS = 200
_MARGIN = 36.0
_BOTTOM = 44.0  # lowest y a table row may reach; the footer sits below it
_FOOTER_Y = 22.0
_BASE_SIZE, _MIN_SIZE = 8.0, 6.0
_MIN_COL, _MAX_COL = 30.0, 200.0
_PAD = 3.0
_ELLIPSIS = "…"
_MEASURE_CHARS = 200  # a column is at most _MAX_COL wide: longer text needn't be measured
_HEADER_GREY, _ZEBRA_GREY, _RULE_GREY, _MUTED_GREY = 0.86, 0.955, 0.6, 0.35
# C0/C1 controls could break the single-line layout; lone surrogates cannot be encoded.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_NUMERIC = frozenset({ColumnType.INTEGER, ColumnType.NUMBER})
_FIT_CACHE_SIZE = 1024  # per column: distinct texts whose fit is remembered
_FIT_CACHE_CHARS = 100  # longer texts are rarely repeated; not worth remembering


@functools.cache
def _register_fonts() -> None:
    """Register DejaVu Sans (regular, bold) once per process: it covers Latin, Greek, Cyrillic."""
    for name, file in ((FONT, "DejaVuSans.ttf"), (FONT_BOLD, "DejaVuSans-Bold.ttf")):
        pdfmetrics.registerFont(TTFont(name, str(_FONTS_DIR / file)))


def _clean(text: str) -> str:
    """Make untrusted text safe to draw as one line (it is never parsed as markup)."""
    return _UNSAFE.sub(" ", text)


def _format_cell(value: object) -> str:
    """The text shown for a typed cell; anything but a table cell is a `RenderError`."""
    if value is None:
        return ""
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return _format_float(value)
    if isinstance(value, date):  # covers datetime too
        return value.isoformat()
    raise RenderError(f"cannot write a {type(value).__name__} value to a PDF cell")


def _format_float(value: float) -> str:
    """Up to 6 decimals, trailing zeros dropped; scientific only for extreme magnitudes."""
    if not math.isfinite(value) or (value != 0 and not 1e-4 <= abs(value) < 1e15):
        return f"{value:.6g}"
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _fit(text: str, width: float, font: str, size: float) -> tuple[str, float]:
    """Truncate `text` with an ellipsis so it fits `width`; return it with its drawn width."""
    measure = pdfmetrics.getFont(font).stringWidth
    # No glyph worth showing is narrower than a quarter em, so never measure more than this.
    limit = int(width / (size * 0.25)) + 1
    if len(text) <= limit:
        full: float = measure(text, size)
        if full <= width:
            return text, full
    else:
        text = text[:limit]
    low, high = 0, len(text)  # binary search the longest prefix that fits with the ellipsis
    while low < high:
        mid = (low + high + 1) // 2
        if measure(text[:mid] + _ELLIPSIS, size) <= width:
            low = mid
        else:
            high = mid - 1
    fitted = text[:low].rstrip() + _ELLIPSIS
    drawn: float = measure(fitted, size)
    return (fitted, drawn) if drawn <= width else ("", 0.0)


@functools.cache
def _widest_ascii(font: str) -> float:
    """The advance of the font's widest printable ASCII glyph, in thousandths of an em."""
    measure = pdfmetrics.getFont(font).stringWidth
    return max(float(measure(chr(code), 1000)) for code in range(0x20, 0x7F))


class _ColumnFit:
    """Where and how one column's texts are drawn: fitted to its width (shortened with
    an ellipsis when too long), left-aligned or, for numbers, right-aligned.

    Remembers the answer for up to `_FIT_CACHE_SIZE` distinct short texts, so values
    that repeat (a department, a currency) are measured once; short ASCII text that
    cannot be too wide even in the widest glyph is not measured at all.
    """

    def __init__(self, x: float, width: float, pad: float, numeric: bool, size: float) -> None:
        self.room = width - 2 * pad
        self.left = x + pad
        self.right = x + width - pad
        self.numeric = numeric
        self.size = size
        self.sure_chars = int(self.room / (_widest_ascii(FONT) * size / 1000))
        self.known: dict[str, tuple[str, float]] = {}

    def place(self, text: str) -> tuple[str, float]:
        """The text to draw, shortened if need be, and the x to draw it at."""
        if not self.numeric and len(text) <= self.sure_chars and text.isascii():
            return text, self.left
        placed = self.known.get(text)
        if placed is None:
            shown, drawn = _fit(text, self.room, FONT, self.size)
            placed = shown, (self.right - drawn if self.numeric else self.left)
            if len(self.known) < _FIT_CACHE_SIZE and len(text) <= _FIT_CACHE_CHARS:
                self.known[text] = placed
        return placed


@dataclass(frozen=True)
class _Layout:
    """Page size and column geometry, decided once from the header and a sample of rows."""

    page_size: tuple[float, float]
    widths: tuple[float, ...]
    xs: tuple[float, ...]
    numeric: tuple[bool, ...]
    size: float
    pad: float

    @property
    def row_height(self) -> float:
        return self.size * 1.8

    @property
    def table_width(self) -> float:
        return sum(self.widths)


def _plan_layout(columns: Sequence[Column], sample: Sequence[Sequence[str]]) -> _Layout:
    """Portrait if the capped natural width fits, else landscape, else landscape scaled down."""
    wanted = []  # uncapped natural widths, from the header and the sample
    for i, column in enumerate(columns):
        label = _clean(column.label)[:_MEASURE_CHARS]
        widest = pdfmetrics.stringWidth(label, FONT_BOLD, _BASE_SIZE)
        for row in sample:
            widest = max(widest, pdfmetrics.stringWidth(row[i][:_MEASURE_CHARS], FONT, _BASE_SIZE))
        wanted.append(max(widest + 2 * _PAD, _MIN_COL))
    natural = [min(w, _MAX_COL) for w in wanted]
    page_size: tuple[float, float] = A4
    if sum(natural) > A4[0] - 2 * _MARGIN:
        page_size = landscape(A4)
    available = page_size[0] - 2 * _MARGIN
    scale = min(1.0, available / sum(natural))
    widths = [w * scale for w in natural]
    # Spare room goes to the capped columns, so a few long texts get truncated less.
    deficits = [max(0.0, want - have) for want, have in zip(wanted, widths, strict=True)]
    if sum(deficits) > 0 and scale == 1.0:
        share = min(1.0, (available - sum(widths)) / sum(deficits))
        widths = [w + d * share for w, d in zip(widths, deficits, strict=True)]
    xs = tuple(_MARGIN + sum(widths[:i]) for i in range(len(widths)))
    numeric = tuple(c.type in _NUMERIC for c in columns)
    size = max(_MIN_SIZE, _BASE_SIZE * scale)
    return _Layout(page_size, tuple(widths), xs, numeric, size, _PAD * scale)


class _Writer:
    """Draws pages one after another, tracking the current page and vertical position."""

    def __init__(self, canvas: Canvas, layout: _Layout, table: TableData) -> None:
        self.canvas, self.layout, self.page, self.y = canvas, layout, 0, 0.0
        self.title = _clean(table.title)
        self.labels = [_clean(c.label) for c in table.columns]
        self.fits = [
            _ColumnFit(x, width, layout.pad, numeric, layout.size)
            for x, width, numeric in zip(layout.xs, layout.widths, layout.numeric, strict=True)
        ]
        generated = table.generated_at
        if generated.tzinfo is None:  # naive timestamps are taken to be UTC already
            generated = generated.replace(tzinfo=UTC)
        self.generated = generated.astimezone(UTC).isoformat(timespec="seconds")

    def start_page(self) -> None:
        """Open the next page: title, footer and the repeated header row."""
        c, width = self.canvas, self.layout.page_size[0]
        if self.page:
            c.showPage()
        self.page += 1
        top = self.layout.page_size[1] - _MARGIN
        text_width = width - 2 * _MARGIN
        c.setFillGray(0)
        if self.page == 1:
            c.setFont(FONT_BOLD, 14)
            c.drawString(_MARGIN, top - 14, _fit(self.title, text_width, FONT_BOLD, 14)[0])
            c.setFont(FONT, 8)
            c.setFillGray(_MUTED_GREY)
            c.drawString(_MARGIN, top - 28, f"Generated {self.generated}")
            self.y = top - 38
        else:
            c.setFont(FONT_BOLD, 9)
            c.drawString(_MARGIN, top - 9, _fit(self.title, text_width, FONT_BOLD, 9)[0])
            self.y = top - 16
        self._draw_footer()
        self._draw_header()

    def _draw_footer(self) -> None:
        # The total is unknown while streaming: reference a form XObject filled in at the end.
        c, label = self.canvas, f"Page {self.page} of "
        c.setFont(FONT, 8)
        c.setFillGray(_MUTED_GREY)
        label_width = pdfmetrics.stringWidth(label, FONT, 8)
        guess = label_width + pdfmetrics.stringWidth(str(self.page), FONT, 8)
        x = (self.layout.page_size[0] - guess) / 2
        c.drawString(x, _FOOTER_Y, label)
        c.saveState()
        c.translate(x + label_width, _FOOTER_Y)
        c.doForm(_TOTAL_PAGES_FORM)
        c.restoreState()

    def draw_row(self, texts: Sequence[str], index: int) -> None:
        """Draw one data row, starting a new page first if it would not fit."""
        if self.y - self.layout.row_height < _BOTTOM:
            self.start_page()
        baseline = self._band(header=False, stripe=index % 2 == 1)
        # One text object (BT..ET) per row: ~20% faster than a drawString per cell.
        text = self.canvas.beginText()
        text.setFont(FONT, self.layout.size)
        # `_textOut` is `textOut` without moving the text cursor, which measures the text
        # again (~8% of the time); the origin is set for every cell, so the cursor is moot.
        origin, out = text.setTextOrigin, getattr(text, "_textOut", text.textOut)
        for cell, fit in zip(texts, self.fits, strict=True):
            shown, x = fit.place(cell)
            origin(x, baseline)
            out(shown)
        self.canvas.drawText(text)

    def _draw_header(self) -> None:
        lay = self.layout
        baseline = self._band(header=True, stripe=False)
        text = self.canvas.beginText()
        text.setFont(FONT_BOLD, lay.size)
        for label, x, width, numeric in zip(
            self.labels, lay.xs, lay.widths, lay.numeric, strict=True
        ):
            shown, drawn = _fit(label, width - 2 * lay.pad, FONT_BOLD, lay.size)
            text.setTextOrigin(x + width - lay.pad - drawn if numeric else x + lay.pad, baseline)
            text.textOut(shown)
        self.canvas.drawText(text)

    def _band(self, header: bool, stripe: bool) -> float:
        """Draw the next row's background (header grey and rule, or zebra stripe), move
        down past it and return the baseline for its text."""
        c, lay = self.canvas, self.layout
        bottom = self.y - lay.row_height
        if header or stripe:
            c.setFillGray(_HEADER_GREY if header else _ZEBRA_GREY)
            c.rect(_MARGIN, bottom, lay.table_width, lay.row_height, stroke=0, fill=1)
        if header:
            c.setStrokeGray(_RULE_GREY)
            c.setLineWidth(0.5)
            c.line(_MARGIN, bottom, _MARGIN + lay.table_width, bottom)
        c.setFillGray(0)
        self.y = bottom
        return bottom + (lay.row_height - lay.size * 0.72) / 2

    def finish(self) -> None:
        """Close the last page and define the page-total form every footer refers to."""
        c = self.canvas
        c.showPage()
        c.beginForm(_TOTAL_PAGES_FORM)
        c.setFont(FONT, 8)
        c.setFillGray(_MUTED_GREY)
        c.drawString(0, 0, str(self.page))
        c.endForm()
        c.save()


# Column formatters: each takes one column of a batch and returns its texts. The fast
# paths only run when every value has the exact type they expect; anything else (None
# included) goes through `_format_cell`, which also refuses what it cannot show.
_Formatter = Callable[[Sequence[Any]], Sequence[str]]


def _careful(column: Sequence[Any]) -> list[str]:
    return list(map(_format_cell, column))


def _text(column: Sequence[Any]) -> Sequence[str]:
    # Printable text holds no control character or surrogate: nothing for `_clean` to do.
    if value_types(column) == {str} and "".join(column).isprintable():
        return column
    return _careful(column)


def _number(column: Sequence[Any]) -> Sequence[str]:
    if value_types(column) <= {int, Decimal}:
        return list(map(str, column))
    return _careful(column)  # floats, None, or unexpected values


def _boolean(column: Sequence[Any]) -> Sequence[str]:
    if value_types(column) == {bool}:
        return list(map(BOOLEAN_TEXT.__getitem__, column))
    return _careful(column)


_temporal = functools.partial(iso_texts, careful=_careful)


_FORMATTERS: dict[ColumnType, _Formatter] = {
    ColumnType.STRING: _text,
    ColumnType.INTEGER: _number,
    ColumnType.NUMBER: _number,
    ColumnType.BOOLEAN: _boolean,
    ColumnType.DATE: _temporal,
    ColumnType.DATETIME: _temporal,
}


class _Canvas(Canvas):  # type: ignore[misc]  # reportlab ships no type hints
    """A canvas that compresses each finished page at once rather than at `save()`, and
    whose `save()` writes the file as it is assembled.

    reportlab holds every finished page's content as uncompressed text until `save()`,
    where `pageCompression=1` compresses them all: for a table that is ~40 KB per page,
    so memory grew by ~1 MB per 1,000 rows. Here each page's content is compressed as
    soon as the page is finished and handed to the page as a ready stream (the
    `Filter` entry tells reportlab not to encode it again), so memory grows by a few KB
    per page. Pages draw exactly as before; the file is ~20% smaller, as the streams
    are only flate-compressed (reportlab adds an ASCII85 layer by default). If
    reportlab ever stores pages differently, the page is left alone and compressed at
    `save()` as before.
    """

    def __init__(self, destination: BinaryIO, **options: Any) -> None:
        super().__init__(destination, **options)
        self._destination = destination

    def showPage(self) -> None:  # noqa: N802 - reportlab's name
        super().showPage()
        pages = getattr(getattr(self._doc, "Pages", None), "pages", None)
        if pages:
            _compress_page(pages[-1], self._destination)


def _compress_page(page: Any, destination: BinaryIO) -> None:
    text = getattr(page, "stream", None)
    if not isinstance(text, str) or getattr(page, "Contents", None) is not None:
        return
    stream = _PageStream(zlib.compress(text.encode("utf-8")), destination)
    stream.dictionary["Filter"] = pdfdoc.PDFArray([pdfdoc.PDFName("FlateDecode")])
    stream.__Comment__ = "page stream"
    page.Contents = stream
    page.stream = None


class _PageStream(pdfdoc.PDFStream):  # type: ignore[misc]
    """A finished page's compressed content. When `save()` formats the first of them,
    the file assembled so far goes to the destination and the rest follows as it is
    formatted.

    reportlab's `save()` formats the document's objects one by one into a collector
    (`PDFFile`) that appends each piece to a list, joins the list and writes the
    result: the whole file in memory twice over. The collector keeps the byte offsets
    itself and writes through its `write` attribute, so pointing that at the
    destination keeps the offsets right and leaves an empty list to join. The
    collector is only reachable as the document's `__accum__` attribute while it
    formats; if reportlab ever changes that, the file is assembled in memory as before.
    """

    def __init__(self, content: bytes, destination: BinaryIO) -> None:
        super().__init__(content=content)
        self._destination = destination

    def format(self, document: Any) -> bytes:
        """The stream as PDF bytes, after sending what precedes it to the destination."""
        collector: Any = getattr(document, "__accum__", None)
        pieces = getattr(collector, "strings", None)
        if isinstance(pieces, list) and getattr(collector, "write", None) == pieces.append:
            for piece in pieces:
                self._destination.write(piece)
            pieces.clear()
            collector.write = self._destination.write
        formatted: bytes = super().format(document)
        return formatted


def _too_large(max_rows: int) -> TooLargeError:
    return TooLargeError(
        f"a PDF holds at most {max_rows:,} rows; this report has more. Request it as CSV or XLSX."
    )


class PdfRenderer:
    """Renders a table as an A4 PDF: title, repeated header, zebra rows, "Page X of Y".

    With `max_rows`, a table of more data rows than that is refused with a
    `TooLargeError` as soon as row `max_rows + 1` is read; no row after it is read.
    """

    writes_in_order = False  # the file is written at the end, from the finished pages

    def __init__(self, max_rows: int | None = None) -> None:
        """Set the most data rows a PDF may hold (None: no limit)."""
        if max_rows is not None and max_rows < 0:
            raise ValueError("max_rows must be >= 0 or None")
        self._max_rows = max_rows

    def render(self, table: TableData, destination: BinaryIO) -> RenderStats:
        """Stream `table` into `destination` as PDF; raise `RenderError` if that fails."""
        with failures_as_render_errors("PDF"):
            return self._render(table, destination)

    def _render(self, table: TableData, destination: BinaryIO) -> RenderStats:
        columns = list(table.columns)
        if not columns:
            raise RenderError("a PDF table needs at least one column")
        _register_fonts()
        batches = self._text_batches(table.rows, columns)
        first = next(batches, [])
        layout = _plan_layout(columns, first[:_SAMPLE_ROWS])
        canvas = _Canvas(destination, pagesize=layout.page_size, pageCompression=1)
        canvas.setTitle(_clean(table.title))
        canvas.setCreator("relatoria")
        writer = _Writer(canvas, layout, table)
        writer.start_page()
        count = 0
        for batch in chain([first], batches):
            for texts in batch:
                writer.draw_row(texts, count)
                count += 1
        writer.finish()
        return RenderStats(row_count=count, page_count=writer.page)

    def _text_batches(
        self, rows: Iterable[Sequence[Any]], columns: Sequence[Column]
    ) -> Iterator[list[tuple[str, ...]]]:
        """The rows' texts, a batch at a time; stops at the row cap, reading one row past
        it at most."""
        limit = self._max_rows
        if limit is not None:
            rows = islice(rows, limit + 1)
        formatters = [_FORMATTERS.get(column.type, _careful) for column in columns]
        read = 0
        for batch in row_batches(rows, len(columns)):
            read += len(batch)
            if limit is not None and read > limit:
                raise _too_large(limit)
            cells = zip(formatters, zip(*batch, strict=True), strict=True)
            texts = [formatter(column) for formatter, column in cells]
            yield list(zip(*texts, strict=True))
