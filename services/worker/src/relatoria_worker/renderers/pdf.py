"""PDF renderer: streams a `TableData` onto A4 pages with reportlab's low-level canvas.

Why the canvas and not platypus: reports may stream millions of rows, and platypus tables
hold every row in memory and are several times slower. Rows are drawn as they arrive; only
a small sample is buffered first, to size the columns.
"""

import functools
import itertools
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date
from pathlib import Path
from typing import BinaryIO

from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from relatoria_shared.domain.errors import RenderError
from relatoria_shared.domain.table import Cell, Column, ColumnType, TableData
from relatoria_worker.renderers.base import RenderStats, failures_as_render_errors

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


@functools.cache
def _register_fonts() -> None:
    """Register DejaVu Sans (regular, bold) once per process: it covers Latin, Greek, Cyrillic."""
    for name, file in ((FONT, "DejaVuSans.ttf"), (FONT_BOLD, "DejaVuSans-Bold.ttf")):
        pdfmetrics.registerFont(TTFont(name, str(_FONTS_DIR / file)))


def _clean(text: str) -> str:
    """Make untrusted text safe to draw as one line (it is never parsed as markup)."""
    return _UNSAFE.sub(" ", text)


def _format_cell(value: Cell) -> str:
    """The text shown for a typed cell."""
    if value is None:
        return ""
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _format_float(value)
    if isinstance(value, date):  # covers datetime too
        return value.isoformat()
    return _clean(str(value))


def _format_float(value: float) -> str:
    """Up to 6 decimals, trailing zeros dropped; scientific only for extreme magnitudes."""
    if not math.isfinite(value) or (value != 0 and not 1e-4 <= abs(value) < 1e15):
        return f"{value:.6g}"
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _fit(text: str, width: float, font: str, size: float) -> tuple[str, float]:
    """Truncate `text` with an ellipsis so it fits `width`; return it with its drawn width."""
    # No glyph worth showing is narrower than a quarter em, so never measure more than this.
    limit = int(width / (size * 0.25)) + 1
    if len(text) <= limit:
        full = pdfmetrics.stringWidth(text, font, size)
        if full <= width:
            return text, full
    else:
        text = text[:limit]
    low, high = 0, len(text)  # binary search the longest prefix that fits with the ellipsis
    while low < high:
        mid = (low + high + 1) // 2
        if pdfmetrics.stringWidth(text[:mid] + _ELLIPSIS, font, size) <= width:
            low = mid
        else:
            high = mid - 1
    fitted = text[:low].rstrip() + _ELLIPSIS
    drawn = pdfmetrics.stringWidth(fitted, font, size)
    return (fitted, drawn) if drawn <= width else ("", 0.0)


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
        self._draw_row(self.labels, header=True)

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
        self._draw_row(texts, stripe=index % 2 == 1)

    def _draw_row(self, texts: Sequence[str], header: bool = False, stripe: bool = False) -> None:
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
        font = FONT_BOLD if header else FONT
        # One text object (BT..ET) per row: ~20% faster than a drawString per cell.
        text = c.beginText()
        text.setFont(font, lay.size)
        baseline = bottom + (lay.row_height - lay.size * 0.72) / 2
        for cell, x, width, numeric in zip(texts, lay.xs, lay.widths, lay.numeric, strict=True):
            shown, drawn = _fit(cell, width - 2 * lay.pad, font, lay.size)
            text.setTextOrigin(x + width - lay.pad - drawn if numeric else x + lay.pad, baseline)
            text.textOut(shown)
        c.drawText(text)
        self.y = bottom

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


def _row_texts(rows: Iterable[Sequence[Cell]], width: int) -> Iterator[list[str]]:
    """Format each row's cells lazily, checking it has one cell per column."""
    for number, row in enumerate(rows, start=1):
        if len(row) != width:
            raise RenderError(f"row {number} has {len(row)} cells; the table has {width} columns")
        yield [_format_cell(value) for value in row]


class PdfRenderer:
    """Renders a table as an A4 PDF: title, repeated header, zebra rows, "Page X of Y"."""

    def render(self, table: TableData, destination: BinaryIO) -> RenderStats:
        """Stream `table` into `destination` as PDF; raise `RenderError` if that fails."""
        with failures_as_render_errors("PDF"):
            return self._render(table, destination)

    def _render(self, table: TableData, destination: BinaryIO) -> RenderStats:
        if not table.columns:
            raise RenderError("a PDF table needs at least one column")
        _register_fonts()
        texts = _row_texts(table.rows, len(table.columns))
        sample = list(itertools.islice(texts, _SAMPLE_ROWS))
        layout = _plan_layout(table.columns, sample)
        canvas = Canvas(destination, pagesize=layout.page_size, pageCompression=1)
        canvas.setTitle(_clean(table.title))
        canvas.setCreator("relatoria")
        writer = _Writer(canvas, layout, table)
        writer.start_page()
        count = 0
        for row in itertools.chain(sample, texts):
            writer.draw_row(row, count)
            count += 1
        writer.finish()
        return RenderStats(row_count=count, page_count=writer.page)
