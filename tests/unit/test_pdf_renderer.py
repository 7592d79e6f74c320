"""The PDF renderer: pagination, page totals, orientation, Unicode and untrusted text."""

import io
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime

import pytest
from pypdf import PdfReader

from relatoria_shared.domain.errors import RenderError
from relatoria_shared.domain.table import Cell, Column, ColumnType, TableData
from relatoria_worker.renderers.base import RenderStats
from relatoria_worker.renderers.pdf import PdfRenderer

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
