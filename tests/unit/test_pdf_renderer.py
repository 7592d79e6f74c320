"""The PDF renderer: pagination, page totals, orientation, Unicode and untrusted text."""

import io
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from pypdf import PdfReader

from relatoria_shared.domain.errors import ErrorCode, RenderError, TooLargeError
from relatoria_shared.domain.table import Cell, Column, ColumnType, TableData
from relatoria_worker.renderers.base import RenderStats
from relatoria_worker.renderers.pdf import PdfRenderer
from tests.support.database_rows import Record

GENERATED = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
MARKUP = '<img src="http://127.0.0.1:1/x.png"/> <font color="red">x</font> & y'
COLUMNS = [
    Column("id", "Identifier", ColumnType.INTEGER),
    Column("name", "Customer", ColumnType.STRING),
    Column("amount", "Amount", ColumnType.NUMBER),
]


def _render(
    rows: Sequence[Sequence[Cell]] | Iterator[Sequence[Cell]],
    columns: Sequence[Column] = COLUMNS,
    title: str = "Sales report",
) -> tuple[RenderStats, PdfReader]:
    buffer = io.BytesIO()
    stats = PdfRenderer().render(TableData(title, columns, rows, GENERATED), buffer)
    buffer.seek(0)
    return stats, PdfReader(buffer)


def _text(reader: PdfReader, page: int) -> str:
    # pypdf puts a line break before form XObject text ("Page 1 of" / "3"): normalise spaces.
    return " ".join(reader.pages[page].extract_text().split())


def _rows(count: int) -> Iterator[list[Cell]]:
    return ([i, f"customer {i}", i * 1.5] for i in range(count))


@pytest.mark.unit
def test_long_table_spans_pages_with_header_and_page_totals() -> None:
    stats, reader = _render(list(_rows(120)))

    assert stats.page_count is not None
    assert stats.page_count > 1
    assert stats.page_count == len(reader.pages)
    for index in range(len(reader.pages)):
        text = _text(reader, index)
        for label in ("Identifier", "Customer", "Amount"):
            assert label in text
        assert f"Page {index + 1} of {stats.page_count}" in text
        assert "Sales report" in text
    assert "Generated 2024-05-01T12:30:00+00:00" in _text(reader, 0)


@pytest.mark.unit
def test_row_count_matches_and_a_generator_is_read_once() -> None:
    consumed = 0

    def rows() -> Iterator[list[Cell]]:
        nonlocal consumed
        for row in _rows(250):  # more than the measuring sample
            consumed += 1
            yield row

    stats, reader = _render(rows())

    assert stats.row_count == 250
    assert consumed == 250
    everything = " ".join(_text(reader, i) for i in range(len(reader.pages)))
    assert "customer 0 " in everything
    assert "customer 249 " in everything


@pytest.mark.unit
def test_accented_greek_and_cyrillic_text_round_trips() -> None:
    samples = ["Ação e coração", "Ελληνικά", "Кириллица", "Größe ñandú"]

    _, reader = _render([[i, s, None] for i, s in enumerate(samples)], title="Relatório — Ωμέγα")

    text = reader.pages[0].extract_text()
    for sample in [*samples, "Relatório — Ωμέγα"]:
        assert sample in text


@pytest.mark.unit
def test_markup_in_cells_is_drawn_literally() -> None:
    columns = [Column("id", "Id", ColumnType.INTEGER), Column("note", "Note", ColumnType.STRING)]

    title = "<b>Sales</b> &amp; <i>co</i>"

    _, reader = _render([[1, MARKUP], [2, "&amp; &lt;b&gt;"]], columns=columns, title=title)

    text = reader.pages[0].extract_text()
    assert MARKUP in text
    assert "&amp; &lt;b&gt;" in text
    assert title in text


@pytest.mark.unit
def test_control_characters_are_replaced_and_long_cells_truncated() -> None:
    _, reader = _render([[1, "bell\x07tab\tnul\x00end\nline", 2.0], [2, "x" * 5000, 3.0]])

    text = reader.pages[0].extract_text()
    assert "bell tab nul end line" in text
    assert "x…" in text
    assert "x" * 5000 not in text


@pytest.mark.unit
def test_cells_are_formatted_by_type() -> None:
    columns = [
        Column("i", "Int", ColumnType.INTEGER),
        Column("f", "Float", ColumnType.NUMBER),
        Column("b", "Bool", ColumnType.BOOLEAN),
        Column("d", "Day", ColumnType.DATE),
        Column("t", "At", ColumnType.DATETIME),
        Column("n", "Empty", ColumnType.STRING),
    ]
    row: list[Cell] = [
        -42,
        1234567.125,
        True,
        date(2024, 2, 29),
        datetime(2024, 2, 29, 8, 5, 9),
        None,
    ]

    _, reader = _render([row, [0, 0.1 + 0.2, False, None, None, None]], columns=columns)

    text = _text(reader, 0)
    assert "-42 1234567.125 true 2024-02-29 2024-02-29T08:05:09" in text
    assert "0 0.3 false" in text
    assert "e+" not in text


@pytest.mark.unit
def test_wide_tables_go_landscape_and_narrow_ones_stay_portrait() -> None:
    wide = [Column(f"c{i}", f"Column number {i}", ColumnType.STRING) for i in range(14)]
    wide_row: list[Cell] = [f"value {i} of a row" for i in range(14)]

    _, wide_reader = _render([wide_row] * 3, columns=wide)
    _, narrow_reader = _render(list(_rows(3)))

    wide_box = wide_reader.pages[0].mediabox
    narrow_box = narrow_reader.pages[0].mediabox
    assert wide_box.width > wide_box.height
    assert narrow_box.width < narrow_box.height


@pytest.mark.unit
@pytest.mark.parametrize("count", [30, 60])
def test_too_wide_for_landscape_is_scaled_down(count: int) -> None:
    columns = [Column(f"c{i}", f"Col {i}", ColumnType.INTEGER) for i in range(count)]

    stats, reader = _render([list(range(count))] * 5, columns=columns)

    assert stats == RenderStats(row_count=5, page_count=1)
    box = reader.pages[0].mediabox
    assert box.width > box.height
    text = _text(reader, 0)
    assert " ".join(str(i) for i in range(count)) in text  # every value still fits
    assert "Page 1 of 1" in text
    if count == 30:  # scaled, but above the minimum font size: nothing is truncated
        assert "Col 0 Col 1 Col 2 Col 3" in text
        assert f"Col {count - 1}" in text


@pytest.mark.unit
def test_empty_table_renders_one_page_with_header() -> None:
    stats, reader = _render([])

    assert stats == RenderStats(row_count=0, page_count=1)
    assert len(reader.pages) == 1
    text = _text(reader, 0)
    assert "Sales report" in text
    assert "Identifier Customer Amount" in text
    assert "Page 1 of 1" in text


@pytest.mark.unit
def test_row_with_wrong_width_is_a_render_error() -> None:
    with pytest.raises(RenderError, match="row 2 has 2 cells"):
        _render([[1, "a", 1.0], [2, "b"]])


class _BrokenFile(io.BytesIO):
    def write(self, data: object) -> int:
        raise OSError("disk full")


@pytest.mark.unit
def test_reportlab_failures_become_render_errors() -> None:
    table = TableData("Sales report", COLUMNS, list(_rows(3)), GENERATED)

    with pytest.raises(RenderError, match=r"could not write the PDF file") as caught:
        PdfRenderer().render(table, _BrokenFile())

    assert isinstance(caught.value.__cause__, OSError)


def _counted(limit: int | None = None) -> tuple[Iterator[list[Cell]], list[int]]:
    """Rows without end (or `limit` of them), counting how many were pulled."""
    pulled = [0]

    def rows() -> Iterator[list[Cell]]:
        n = 0
        while limit is None or n < limit:
            pulled[0] += 1
            yield [n, f"customer {n}", n * 1.5]
            n += 1

    return rows(), pulled


def _render_capped(rows: Iterator[Sequence[Cell]], max_rows: int) -> RenderStats:
    return PdfRenderer(max_rows=max_rows).render(
        TableData("Sales report", COLUMNS, rows, GENERATED), io.BytesIO()
    )


@pytest.mark.unit
@pytest.mark.parametrize("max_rows", [0, 5, 2500])
def test_row_cap_refuses_a_larger_table_without_reading_the_rest(max_rows: int) -> None:
    rows, pulled = _counted()  # endless: only the cap stops it

    with pytest.raises(TooLargeError) as caught:
        _render_capped(rows, max_rows)

    assert pulled[0] == max_rows + 1
    assert caught.value.code is ErrorCode.TOO_LARGE
    assert caught.value.message == (
        f"a PDF holds at most {max_rows:,} rows; this report has more. Request it as CSV or XLSX."
    )


@pytest.mark.unit
@pytest.mark.parametrize("count", [0, 5, 1000])
def test_row_cap_lets_a_table_of_exactly_that_size_through(count: int) -> None:
    rows, pulled = _counted(count)

    stats = _render_capped(rows, count)

    assert stats.row_count == count
    assert pulled[0] == count


@pytest.mark.unit
def test_rejects_a_negative_row_cap() -> None:
    with pytest.raises(ValueError, match="max_rows"):
        PdfRenderer(max_rows=-1)


@pytest.mark.unit
def test_database_rows_with_decimals_and_datetimes() -> None:
    columns = [
        Column("id", "Id", ColumnType.INTEGER),
        Column("at", "Occurred at", ColumnType.DATETIME),
        Column("dept", "Department", ColumnType.STRING),
        Column("amount", "Amount", ColumnType.NUMBER),
        Column("day", "Day", ColumnType.DATE),
        Column("ok", "Ok", ColumnType.BOOLEAN),
    ]
    brt = timezone(timedelta(hours=-3))
    rows = [
        Record(
            n, datetime(2025, 7, 1, 8, 5, 9), "Finance", Decimal("1234.50"), date(2025, 7, 2), True
        )
        for n in range(1500)
    ]
    rows[1] = Record(1, datetime(2025, 7, 1, 8, 5, tzinfo=brt), None, None, None, None)
    stats, reader = _render(rows, columns=columns)

    assert stats.row_count == 1500
    first = _text(reader, 0)
    assert "0 2025-07-01T08:05:09 Finance 1234.50 2025-07-02 true" in first
    assert "1 2025-07-01T08:05:00-03:00" in first
    assert "1499 2025-07-01T08:05:09 Finance 1234.50" in _text(reader, len(reader.pages) - 1)


@pytest.mark.unit
def test_repeated_long_values_are_truncated_the_same_way_every_time() -> None:
    columns = [Column("id", "Id", ColumnType.INTEGER), Column("note", "Note", ColumnType.STRING)]
    long_note = "a remarkably long note " * 30
    _, reader = _render([[n, long_note] for n in range(40)], columns=columns)

    lines = [line for line in reader.pages[0].extract_text().splitlines() if "remarkably" in line]
    assert len(lines) == 40
    assert len({line.split(" ", 1)[1] for line in lines}) == 1
    assert lines[0].endswith("…")


@pytest.mark.unit
def test_numbers_are_right_aligned() -> None:
    columns = [Column("n", "A number column", ColumnType.NUMBER)]
    _, reader = _render([[Decimal("1.00")], [Decimal("123456.78")]], columns=columns)
    ends: list[float] = []

    def visit(text: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        if text.strip() in {"1.00", "123456.78"}:
            ends.append(tm[4])  # x where the text starts

    reader.pages[0].extract_text(visitor_text=visit)
    assert len(ends) == 2
    assert ends[0] > ends[1]  # the shorter number starts further right


@pytest.mark.unit
def test_wrong_width_far_into_the_stream_names_its_row() -> None:
    rows: list[Sequence[Cell]] = [[n, "x", 1.0] for n in range(2345)]
    rows.append(Record(1, "x"))

    with pytest.raises(RenderError, match="row 2346 has 2 cells; the table has 3 columns"):
        _render(rows)


@pytest.mark.unit
@pytest.mark.parametrize("column", range(3))
@pytest.mark.parametrize("value", [b"raw", object(), [1, 2]])
def test_unwritable_value_is_a_render_error(column: int, value: Any) -> None:
    rows: list[list[Any]] = [[n, "x", 1.0] for n in range(1500)]
    rows[1234][column] = value

    with pytest.raises(RenderError, match=f"cannot write a {type(value).__name__} value"):
        _render(rows)


@pytest.mark.unit
def test_pages_are_compressed_as_they_are_finished() -> None:
    # Each page's content is flate-compressed when the page ends, not kept as text until
    # the end (reportlab alone would add an ASCII85 layer at save time).
    _, reader = _render(list(_rows(300)))

    assert len(reader.pages) > 3
    for page in reader.pages:
        stream = page["/Contents"].get_object()
        assert stream["/Filter"] == ["/FlateDecode"]


class _RecordingFile(io.BytesIO):
    """A destination that remembers the size of each write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[int] = []

    def write(self, data: Any) -> int:
        self.writes.append(len(data))
        return super().write(data)


@pytest.mark.unit
def test_the_file_is_written_as_it_is_assembled_with_correct_offsets() -> None:
    # reportlab alone joins the whole file in memory and writes it at once; here no write
    # holds more than a sliver of it, and every cross-reference offset still points at
    # its object, so strict readers open the file.
    destination = _RecordingFile()
    PdfRenderer().render(TableData("Sales report", COLUMNS, _rows(3000), GENERATED), destination)
    data = destination.getvalue()

    assert max(destination.writes) < len(data) / 4
    xref_at = int(data.rsplit(b"startxref", 1)[1].split()[0])
    header, count = data[xref_at:].split(b"\n", 2)[1].split()
    entries = data[xref_at:].split(b"\n")[2 : 2 + int(count)]
    for number, entry in enumerate(entries[1:], start=int(header) + 1):
        offset = int(entry.split()[0])
        assert data[offset:].startswith(f"{number} 0 obj".encode())
    reader = PdfReader(io.BytesIO(data), strict=True)
    assert "Page 1 of" in _text(reader, 0)
    assert "2999" in _text(reader, len(reader.pages) - 1)
