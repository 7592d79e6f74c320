"""Unit tests for the XLSX renderer: typed cells, header styling, injection guard, widths."""

import gc
import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet import _writer as openpyxl_sheet_writer

from relatoria_shared.domain.errors import InvalidParametersError, RenderError
from relatoria_shared.domain.table import Cell, Column, ColumnType, TableData
from relatoria_worker.renderers.base import Renderer, RenderStats
from relatoria_worker.renderers.xlsx import (
    DATE_FORMAT,
    DATETIME_FORMAT,
    MAX_SHEET_ROWS,
    XlsxRenderer,
    sanitise_sheet_title,
)
from tests.support.database_rows import EXPENSES, Record, expense

GENERATED_AT = datetime(2025, 1, 1, tzinfo=UTC)

COLUMNS = [
    Column("name", "Name", ColumnType.STRING),
    Column("qty", "Quantity", ColumnType.INTEGER),
    Column("price", "Price", ColumnType.NUMBER),
    Column("ok", "Ok", ColumnType.BOOLEAN),
    Column("day", "Day", ColumnType.DATE),
    Column("at", "At", ColumnType.DATETIME),
]


def _table(
    rows: Iterable[Sequence[Any]], columns: Sequence[Column] = COLUMNS, title: str = "Sales"
) -> TableData:
    return TableData(title=title, columns=columns, rows=rows, generated_at=GENERATED_AT)


def _render(table: TableData, renderer: XlsxRenderer | None = None) -> tuple[bytes, RenderStats]:
    out = io.BytesIO()
    stats = (renderer or XlsxRenderer()).render(table, out)
    assert not out.closed
    return out.getvalue(), stats


def _sheet(data: bytes) -> Any:
    return load_workbook(io.BytesIO(data)).active


def _strings(columns: int = 1) -> list[Column]:
    return [Column(f"c{i}", f"C{i}", ColumnType.STRING) for i in range(columns)]


@pytest.mark.unit
def test_satisfies_the_renderer_protocol() -> None:
    renderer: Renderer = XlsxRenderer()
    assert renderer is not None


@pytest.mark.unit
def test_header_is_bold_frozen_and_filtered() -> None:
    data, _ = _render(_table([["a", 1, 1.5, True, None, None]] * 3))
    sheet = _sheet(data)

    header = next(sheet.iter_rows(min_row=1, max_row=1))
    assert [c.value for c in header] == ["Name", "Quantity", "Price", "Ok", "Day", "At"]
    assert all(c.font.b for c in header)
    assert all(c.data_type == "s" for c in header)
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:F4"
    data_row = next(sheet.iter_rows(min_row=2, max_row=2))
    assert not any(c.font.b for c in data_row)


@pytest.mark.unit
def test_typed_cells_are_preserved() -> None:
    rows: list[list[Cell]] = [
        ["Widget", 3, 9.99, True, date(2024, 2, 29), datetime(2024, 2, 29, 13, 5, 7)],
        ["Gadget", -5, 0.1, False, date(1999, 12, 31), datetime(2000, 1, 1, 0, 0, 0)],
    ]
    data, stats = _render(_table(rows))
    sheet = _sheet(data)

    assert stats == RenderStats(row_count=2, page_count=None, sheet_count=1)
    assert sheet.max_row == 3
    name, qty, price, ok, day, at = next(sheet.iter_rows(min_row=2, max_row=2))
    assert (name.value, name.data_type) == ("Widget", "s")
    assert (qty.value, qty.data_type) == (3, "n")
    assert isinstance(qty.value, int)
    assert (price.value, price.data_type) == (9.99, "n")
    assert isinstance(price.value, float)
    assert (ok.value, ok.data_type) == (True, "b")
    # openpyxl reads every date cell back as a datetime at midnight.
    assert day.is_date
    assert day.value == datetime(2024, 2, 29)
    assert day.number_format == DATE_FORMAT == "yyyy-mm-dd"
    assert at.is_date
    assert at.value == datetime(2024, 2, 29, 13, 5, 7)
    assert at.number_format == DATETIME_FORMAT == "yyyy-mm-dd h:mm:ss"
    second = [c.value for c in next(sheet.iter_rows(min_row=3, max_row=3))]
    assert second == ["Gadget", -5, 0.1, False, datetime(1999, 12, 31), datetime(2000, 1, 1)]


@pytest.mark.unit
def test_aware_datetimes_are_stored_in_utc_without_tzinfo() -> None:
    columns = [Column("at", "At", ColumnType.DATETIME)]
    brt = timezone(timedelta(hours=-3))
    rows = [[datetime(2024, 1, 1, 22, 30, tzinfo=brt)], [datetime(2024, 6, 1, 12, 0, tzinfo=UTC)]]
    sheet = _sheet(_render(_table(rows, columns))[0])

    assert sheet["A2"].value == datetime(2024, 1, 2, 1, 30)
    assert sheet["A3"].value == datetime(2024, 6, 1, 12, 0)
    assert sheet["A2"].value.tzinfo is None


@pytest.mark.unit
def test_none_stays_empty() -> None:
    data, _ = _render(
        _table([[None, None, None, None, None, None], ["x", 1, 1.0, True, None, None]])
    )
    sheet = _sheet(data)

    assert all(c.value is None for c in next(sheet.iter_rows(min_row=2, max_row=2)))
    assert sheet["E3"].value is None
    assert sheet.max_row == 3


@pytest.mark.unit
@pytest.mark.parametrize(
    "text",
    [
        "=1+1",
        '=HYPERLINK("http://x")',
        "=cmd|' /C calc'!A0",
        "+1",
        "-5",
        "@SUM(A1:A2)",
        "\uff1d1+1",  # fullwidth ＝, ＋, －, ＠
        "\uff0b1",
        "\uff0d5",
        "\uff20SUM(A1:A2)",
        "#N/A",
        "#DIV/0!",
        "'quoted",
        "  spaced  ",
        "1234",
    ],
)
def test_strings_stay_strings_verbatim(text: str) -> None:
    data, _ = _render(_table([[text]], _strings()))
    cell = _sheet(data)["A2"]

    assert cell.data_type == "s"
    assert cell.value == text


@pytest.mark.unit
def test_no_formula_reaches_the_file() -> None:
    columns = [Column("a", "=HEADER()", ColumnType.STRING)]
    data, _ = _render(_table([["=1+1"], ['=HYPERLINK("http://x")']], columns))

    sheet_xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet_xml
    assert b"<f " not in sheet_xml
    assert _sheet(data)["A1"].value == "=HEADER()"


@pytest.mark.unit
def test_negative_numbers_stay_numbers() -> None:
    columns = [Column("i", "I", ColumnType.INTEGER), Column("f", "F", ColumnType.NUMBER)]
    sheet = _sheet(_render(_table([[-5, -0.25]], columns))[0])

    assert (sheet["A2"].value, sheet["A2"].data_type) == (-5, "n")
    assert (sheet["B2"].value, sheet["B2"].data_type) == (-0.25, "n")


@pytest.mark.unit
def test_non_ascii_text_is_intact() -> None:
    texts = ["Ação", "Ελληνικά", "Кириллица", "日本語", "emoji 😀"]
    columns = [Column("s", "Descrição", ColumnType.STRING)]
    sheet = _sheet(_render(_table([[t] for t in texts], columns, title="Relatório"))[0])

    assert sheet.title == "Relatório"
    assert [row[0] for row in sheet.iter_rows(values_only=True)] == ["Descrição", *texts]


@pytest.mark.unit
def test_xml_illegal_characters_are_stripped_and_the_rest_kept() -> None:
    columns = [Column("s", "La\x00bel", ColumnType.STRING)]
    rows = [["a\x00b\x01c\x1fd"], ["tab\tlf\ncr\r"], ["surrogate\ud800!"]]
    sheet = _sheet(_render(_table(rows, columns))[0])

    assert [row[0] for row in sheet.iter_rows(values_only=True)] == [
        "Label",
        "abcd",
        "tab\tlf\ncr\r",
        "surrogate!",
    ]


@pytest.mark.unit
def test_non_finite_floats_become_text() -> None:
    columns = [Column("f", "F", ColumnType.NUMBER)]
    rows = [[float("nan")], [float("inf")], [float("-inf")]]
    sheet = _sheet(_render(_table(rows, columns))[0])

    cells = [sheet["A2"], sheet["A3"], sheet["A4"]]
    assert [c.value for c in cells] == ["nan", "inf", "-inf"]
    assert all(c.data_type == "s" for c in cells)


@pytest.mark.unit
def test_rows_as_a_one_pass_generator() -> None:
    columns = [Column("n", "N", ColumnType.INTEGER), Column("label", "Label", ColumnType.STRING)]
    pulled: list[int] = []

    def rows() -> Iterator[list[Cell]]:
        for n in range(1000):
            pulled.append(n)
            yield [n, f"row {n}"]

    data, stats = _render(_table(rows(), columns))
    sheet = _sheet(data)

    assert stats.row_count == 1000
    assert pulled == list(range(1000))
    assert sheet.max_row == 1001
    assert [c.value for c in sheet[2]] == [0, "row 0"]
    assert [c.value for c in sheet[201]] == [199, "row 199"]  # last buffered row
    assert [c.value for c in sheet[202]] == [200, "row 200"]  # first streamed row
    assert [c.value for c in sheet[1001]] == [999, "row 999"]


@pytest.mark.unit
def test_only_a_bounded_sample_is_read_ahead() -> None:
    columns = _strings()
    pulled = 0
    seen_at_first_write: list[int] = []

    def rows() -> Iterator[list[Cell]]:
        nonlocal pulled
        for n in range(50):
            pulled += 1
            yield [str(n)]

    class Spy(XlsxRenderer):
        def _column_widths(
            self, columns: Sequence[Column], sample: Sequence[Sequence[Cell]]
        ) -> Any:
            seen_at_first_write.append(pulled)
            return super()._column_widths(columns, sample)

    _, stats = _render(_table(rows(), columns), Spy(width_sample_rows=10))

    assert seen_at_first_write == [10]
    assert stats.row_count == 50


@pytest.mark.unit
def test_column_widths_follow_content_within_bounds() -> None:
    columns = [
        Column("short", "Id", ColumnType.INTEGER),
        Column("medium", "Customer name", ColumnType.STRING),
        Column("long", "Notes", ColumnType.STRING),
        Column("day", "Day", ColumnType.DATE),
        Column("lines", "Lines", ColumnType.STRING),
    ]
    rows = [[1, "Maria da Silva Santos", "x" * 500, date(2024, 1, 1), "short\n" + "y" * 30]]
    sheet = _sheet(_render(_table(rows, columns))[0])
    widths = {letter: sheet.column_dimensions[letter].width for letter in "ABCDE"}

    assert widths["A"] == 8  # clamped up to the minimum
    assert widths["B"] == len("Maria da Silva Santos") + 1
    assert widths["C"] == 60  # clamped down to the maximum
    assert widths["D"] == len("yyyy-mm-dd") + 1
    assert widths["E"] == 31  # the longest line, not the whole text


@pytest.mark.unit
def test_column_widths_ignore_rows_beyond_the_sample() -> None:
    columns = _strings()
    rows = [["a"]] * 5 + [["z" * 40]]
    sheet = _sheet(_render(_table(rows, columns), XlsxRenderer(width_sample_rows=5))[0])

    assert sheet.column_dimensions["A"].width == 8
    assert sheet["A7"].value == "z" * 40


@pytest.mark.unit
def test_header_label_sets_the_minimum_width() -> None:
    columns = [Column("a", "A rather long column label", ColumnType.INTEGER)]
    sheet = _sheet(_render(_table([[1]], columns))[0])

    assert sheet.column_dimensions["A"].width == len("A rather long column label") + 3


@pytest.mark.unit
def test_empty_table_has_header_only() -> None:
    data, stats = _render(_table([]))
    sheet = _sheet(data)

    assert stats.row_count == 0
    assert sheet.max_row == 1
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:F1"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Sales 2024", "Sales 2024"),
        ("Q1/Q2: [draft]*?\\", "Q1 Q2 draft"),
        ("x" * 40, "x" * 31),
        ("", "Report"),
        ("[]:*?/\\", "Report"),
        ("   ", "Report"),
        ("'quoted'", "quoted"),
        ("History", "Report"),
        ("history", "Report"),
        ("line\nbreak\x00", "line break"),
        ("Relatório de vendas", "Relatório de vendas"),
        ("a" * 30 + " b", "a" * 30),
    ],
)
def test_sanitise_sheet_title(title: str, expected: str) -> None:
    assert sanitise_sheet_title(title) == expected


@pytest.mark.unit
def test_sheet_is_named_from_the_title() -> None:
    sheet = _sheet(_render(_table([], _strings(), title="Vendas/Mar: [v2]"))[0])

    assert sheet.title == "Vendas Mar v2"


@pytest.mark.unit
def test_row_of_the_wrong_width_is_a_render_error() -> None:
    with pytest.raises(RenderError, match="row 2 has 1 cells; the table has 2 columns"):
        XlsxRenderer().render(_table([["a", "b"], ["c"]], _strings(2)), io.BytesIO())


@pytest.mark.unit
def test_unsupported_value_is_a_render_error() -> None:
    with pytest.raises(RenderError, match="cannot write a bytes value"):
        XlsxRenderer().render(_table([[b"raw"]], _strings()), io.BytesIO())


@pytest.mark.unit
def test_unexpected_failure_is_wrapped() -> None:
    def rows() -> Iterator[list[Cell]]:
        yield ["ok"]
        raise ValueError("boom")

    with pytest.raises(RenderError, match=r"could not write the XLSX file \(ValueError\)") as info:
        XlsxRenderer().render(_table(rows(), _strings()), io.BytesIO())
    assert isinstance(info.value.__cause__, ValueError)


@pytest.mark.unit
def test_report_errors_from_the_rows_pass_through() -> None:
    def rows() -> Iterator[list[Cell]]:
        yield ["ok"]
        raise InvalidParametersError("bad stored rows")

    with pytest.raises(InvalidParametersError, match="bad stored rows"):
        XlsxRenderer().render(_table(rows(), _strings()), io.BytesIO())


@pytest.mark.unit
@pytest.mark.parametrize("failing_row", [0, 1, 300])
def test_failed_render_leaves_no_temp_file(failing_row: int) -> None:
    before = list(openpyxl_sheet_writer.ALL_TEMP_FILES)

    def rows() -> Iterator[list[Cell]]:
        for n in range(failing_row):
            yield [str(n)]
        raise ValueError("boom")

    with pytest.raises(RenderError):
        XlsxRenderer().render(_table(rows(), _strings()), io.BytesIO())
    assert before == openpyxl_sheet_writer.ALL_TEMP_FILES


@pytest.mark.unit
def test_successful_render_leaves_no_temp_file() -> None:
    before = list(openpyxl_sheet_writer.ALL_TEMP_FILES)
    _render(_table([["a", 1, 1.0, True, None, None]]))
    assert before == openpyxl_sheet_writer.ALL_TEMP_FILES


class _BrokenFile(io.BytesIO):
    """A destination that fails like a full disk."""

    def write(self, data: Any, /) -> int:
        raise OSError(28, "No space left on device")


@pytest.mark.unit
def test_failing_destination_is_a_render_error_and_leaves_nothing_behind() -> None:
    before = list(openpyxl_sheet_writer.ALL_TEMP_FILES)

    with pytest.raises(RenderError, match=r"\(OSError\)"):
        XlsxRenderer().render(_table([["a"]] * 300, _strings()), _BrokenFile())
    gc.collect()  # a half-closed zip archive would complain here, failing the test

    assert before == openpyxl_sheet_writer.ALL_TEMP_FILES


class _Pipe(io.RawIOBase):
    """A write-only, non-seekable destination, like an upload stream."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any, /) -> int:
        self.chunks.append(bytes(data))
        return len(data)


@pytest.mark.unit
def test_non_seekable_destination_works() -> None:
    pipe = _Pipe()
    stats = XlsxRenderer().render(_table([["a"], ["=1+1"]], _strings()), pipe)  # type: ignore[arg-type]

    sheet = _sheet(b"".join(pipe.chunks))
    assert stats.row_count == 2
    assert (sheet["A3"].value, sheet["A3"].data_type) == ("=1+1", "s")


@pytest.mark.unit
def test_rejects_nonsense_width_settings() -> None:
    with pytest.raises(ValueError, match="min_width"):
        XlsxRenderer(min_width=10, max_width=5)


def _workbook(data: bytes) -> Any:
    return load_workbook(io.BytesIO(data))


@pytest.mark.unit
@pytest.mark.parametrize("make_row", [tuple, list, lambda values: Record(*values)])
def test_database_rows_keep_their_types_and_formulas_stay_text(make_row: Any) -> None:
    # Thousands of clean rows go through the fast paths; the dangerous text hides among them.
    rows = [make_row(expense(n)) for n in range(2500)]
    rows[1700] = make_row(expense(1700, who='=HYPERLINK("http://x")'))
    rows[3] = make_row(expense(3, who="#N/A"))
    rows[4] = make_row(expense(4, who="bad\x00char\ud800"))
    data, stats = _render(_table(rows, EXPENSES))
    sheet = _sheet(data)

    assert stats.row_count == 2500
    assert sheet.max_row == 2501
    n, at, who, amount, paid, day = sheet[2]
    assert (n.value, n.data_type) == (0, "n")
    assert (at.value, at.number_format, at.is_date) == (
        datetime(2025, 7, 1, 8, 5, 9),
        DATETIME_FORMAT,
        True,
    )
    assert (who.value, who.data_type) == ("Ana", "s")
    assert (amount.value, amount.data_type) == (1234.5, "n")
    assert (paid.value, paid.data_type) == (True, "b")
    assert (day.value, day.number_format, day.is_date) == (datetime(2025, 7, 2), DATE_FORMAT, True)
    for row, text in [(1702, '=HYPERLINK("http://x")'), (5, "#N/A"), (6, "badchar")]:
        assert (sheet.cell(row, 3).value, sheet.cell(row, 3).data_type) == (text, "s")
    sheet_xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet_xml
    assert b't="e"' not in sheet_xml


@pytest.mark.unit
def test_text_in_a_non_text_column_stays_text() -> None:
    columns = [
        Column("i", "I", ColumnType.INTEGER),
        Column("n", "N", ColumnType.NUMBER),
        Column("d", "D", ColumnType.DATE),
        Column("t", "T", ColumnType.DATETIME),
    ]
    rows = [(1, Decimal("1.00"), date(2024, 1, 1), datetime(2024, 1, 1))] * 5
    rows.append(("=1+1", "#DIV/0!", "=A1", "#REF!"))
    sheet = _sheet(_render(_table(rows, columns))[0])

    last = sheet[7]
    assert [c.value for c in last] == ["=1+1", "#DIV/0!", "=A1", "#REF!"]
    assert all(c.data_type == "s" for c in last)


@pytest.mark.unit
def test_decimal_amounts_are_numbers() -> None:
    columns = [Column("amount", "Amount", ColumnType.NUMBER)]
    values = [Decimal("1234.50"), Decimal("-0.01"), Decimal("0.00"), Decimal("9999999999.99")]
    sheet = _sheet(_render(_table([(v,) for v in [*values, None]], columns))[0])

    cells = [sheet.cell(row, 1) for row in range(2, 6)]
    assert [c.data_type for c in cells] == ["n"] * 4
    assert [c.value for c in cells] == [1234.5, -0.01, 0, 9999999999.99]
    assert sheet["A6"].value is None


@pytest.mark.unit
def test_non_finite_decimals_become_text() -> None:
    columns = [Column("amount", "Amount", ColumnType.NUMBER)]
    values = [Decimal("1.50"), Decimal("NaN"), Decimal("Infinity"), Decimal("sNaN")]
    sheet = _sheet(_render(_table([(v,) for v in values], columns))[0])

    assert (sheet["A2"].value, sheet["A2"].data_type) == (1.5, "n")
    assert [sheet.cell(row, 1).value for row in range(3, 6)] == ["NaN", "Infinity", "sNaN"]
    assert all(sheet.cell(row, 1).data_type == "s" for row in range(3, 6))


@pytest.mark.unit
def test_integer_beyond_what_excel_holds_is_a_render_error() -> None:
    columns = [Column("n", "N", ColumnType.INTEGER)]

    with pytest.raises(RenderError, match="could not write the XLSX file"):
        XlsxRenderer().render(_table([(1,), (10**400,)], columns), io.BytesIO())


@pytest.mark.unit
def test_naive_aware_and_missing_datetimes() -> None:
    columns = [Column("at", "At", ColumnType.DATETIME)]
    brt = timezone(timedelta(hours=-3))
    rows = [
        (datetime(2024, 1, 1, 22, 30),),
        (None,),
        (datetime(2024, 1, 1, 22, 30, tzinfo=brt),),
        (datetime(2024, 6, 1, 12, 0, tzinfo=UTC),),
    ]
    sheet = _sheet(_render(_table(rows, columns))[0])

    assert [sheet.cell(row, 1).value for row in range(2, 6)] == [
        datetime(2024, 1, 1, 22, 30),
        None,
        datetime(2024, 1, 2, 1, 30),
        datetime(2024, 6, 1, 12, 0),
    ]
    for row in (2, 4, 5):
        assert sheet.cell(row, 1).is_date
        assert sheet.cell(row, 1).number_format == DATETIME_FORMAT


@pytest.mark.unit
def test_rows_roll_over_to_new_sheets() -> None:
    rows = [expense(n) for n in range(12)]
    data, stats = _render(_table(rows, EXPENSES), XlsxRenderer(rows_per_sheet=5))
    book = _workbook(data)

    assert stats.row_count == 12
    assert stats.sheet_count == 3
    assert book.sheetnames == ["Sales", "Sales (2)", "Sales (3)"]
    ids = []
    for sheet, data_rows in zip(book.worksheets, [5, 5, 2], strict=True):
        header = sheet[1]
        assert [c.value for c in header] == ["Id", "At", "Who", "Amount", "Paid", "Day"]
        assert all(c.font.b for c in header)
        assert sheet.freeze_panes == "A2"
        assert sheet.max_row == data_rows + 1
        assert sheet.auto_filter.ref == f"A1:F{data_rows + 1}"
        assert sheet.column_dimensions["B"].width == book.worksheets[0].column_dimensions["B"].width
        ids += [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert ids == list(range(12))  # every row, in order, once


@pytest.mark.unit
def test_a_full_last_sheet_does_not_open_an_empty_one() -> None:
    data, stats = _render(
        _table([expense(n) for n in range(10)], EXPENSES), XlsxRenderer(rows_per_sheet=5)
    )

    assert stats.sheet_count == 2
    assert [s.max_row for s in _workbook(data).worksheets] == [6, 6]


@pytest.mark.unit
def test_rollover_across_batches() -> None:
    rows = [expense(n) for n in range(2600)]
    data, stats = _render(_table(rows, EXPENSES), XlsxRenderer(rows_per_sheet=700))
    book = _workbook(data)

    assert stats.sheet_count == 4
    assert [s.max_row for s in book.worksheets] == [701, 701, 701, 501]
    ids = [r[0] for s in book.worksheets for r in s.iter_rows(min_row=2, values_only=True)]
    assert ids == list(range(2600))


@pytest.mark.unit
@pytest.mark.parametrize(
    ("title", "names"),
    [
        ("x" * 40, ["x" * 31, "x" * 27 + " (2)", "x" * 27 + " (3)"]),
        ("Vendas/Mar: [v2]", ["Vendas Mar v2", "Vendas Mar v2 (2)", "Vendas Mar v2 (3)"]),
        ("History", ["Report", "Report (2)", "Report (3)"]),
        ("a" * 26 + " word", ["a" * 26 + " word", "a" * 26 + " (2)", "a" * 26 + " (3)"]),
        # The trimmed title plus its suffix would repeat the first name: skip that number.
        ("b" * 27 + " (2)", ["b" * 27 + " (2)", "b" * 27 + " (3)", "b" * 27 + " (4)"]),
    ],
)
def test_sheet_names_stay_valid_and_unique(title: str, names: list[str]) -> None:
    data, _ = _render(_table([["a"]] * 3, _strings(), title=title), XlsxRenderer(rows_per_sheet=1))
    book = _workbook(data)

    assert book.sheetnames == names
    assert all(len(name) <= 31 for name in names)
    assert len({name.casefold() for name in names}) == len(names)


@pytest.mark.unit
def test_one_sheet_holds_excels_row_limit_by_default() -> None:
    assert MAX_SHEET_ROWS == 1_048_576
    assert XlsxRenderer()._rows_per_sheet == MAX_SHEET_ROWS - 1


@pytest.mark.unit
@pytest.mark.parametrize("rows_per_sheet", [0, -1, MAX_SHEET_ROWS])
def test_rejects_impossible_rows_per_sheet(rows_per_sheet: int) -> None:
    with pytest.raises(ValueError, match="rows_per_sheet"):
        XlsxRenderer(rows_per_sheet=rows_per_sheet)


@pytest.mark.unit
def test_failed_render_over_several_sheets_leaves_no_temp_file() -> None:
    before = list(openpyxl_sheet_writer.ALL_TEMP_FILES)

    def rows() -> Iterator[tuple[Any, ...]]:
        yield from (expense(n) for n in range(12))
        raise ValueError("boom")

    with pytest.raises(RenderError):
        XlsxRenderer(rows_per_sheet=5).render(_table(rows(), EXPENSES), io.BytesIO())
    assert before == openpyxl_sheet_writer.ALL_TEMP_FILES


@pytest.mark.unit
def test_wrong_width_far_into_the_stream_names_its_row() -> None:
    rows: list[Any] = [expense(n) for n in range(2345)]
    rows.append(Record(1, 2))

    with pytest.raises(RenderError, match="row 2346 has 2 cells; the table has 6 columns"):
        XlsxRenderer().render(_table(rows, EXPENSES), io.BytesIO())


@pytest.mark.unit
@pytest.mark.parametrize("column", range(6))
@pytest.mark.parametrize("value", [b"raw", object(), [1, 2], {"a": 1}])
def test_unwritable_value_in_any_column_is_a_render_error(column: int, value: Any) -> None:
    before = list(openpyxl_sheet_writer.ALL_TEMP_FILES)
    rows: list[Any] = [list(expense(n)) for n in range(1500)]
    rows[1234][column] = value

    with pytest.raises(RenderError, match=f"cannot write a {type(value).__name__} value"):
        XlsxRenderer().render(_table(rows, EXPENSES), io.BytesIO())
    assert before == openpyxl_sheet_writer.ALL_TEMP_FILES
