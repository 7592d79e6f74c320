"""Unit tests for the CSV renderer: encoding, quoting, typed values, injection guard."""

import codecs
import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from relatoria_shared.domain.errors import InvalidParametersError, RenderError
from relatoria_shared.domain.table import Cell, Column, ColumnType, TableData
from relatoria_worker.renderers import csv as csv_renderer_module
from relatoria_worker.renderers.base import Renderer, RenderStats
from relatoria_worker.renderers.csv import CsvRenderer, format_cell
from tests.support.database_rows import EXPENSES, Record, expense

GENERATED_AT = datetime(2025, 1, 1, tzinfo=UTC)

COLUMNS = [
    Column("name", "Name", ColumnType.STRING),
    Column("qty", "Qty", ColumnType.INTEGER),
    Column("price", "Price", ColumnType.NUMBER),
    Column("ok", "Ok", ColumnType.BOOLEAN),
    Column("day", "Day", ColumnType.DATE),
    Column("at", "At", ColumnType.DATETIME),
]


def _table(rows: Iterable[Sequence[Any]], columns: Sequence[Column] = COLUMNS) -> TableData:
    return TableData(title="T", columns=columns, rows=rows, generated_at=GENERATED_AT)


def _render(table: TableData) -> tuple[bytes, RenderStats]:
    out = io.BytesIO()
    stats = CsvRenderer().render(table, out)
    assert not out.closed
    return out.getvalue(), stats


def _parse(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


@pytest.mark.unit
def test_module_import_csv_is_the_standard_library() -> None:
    # The renderer module is itself called `csv`; absolute imports keep the stdlib.
    imported = vars(csv_renderer_module)["csv"]
    assert imported is csv
    assert imported.__name__ == "csv"
    assert imported.writer is csv.writer


@pytest.mark.unit
def test_satisfies_the_renderer_protocol() -> None:
    renderer: Renderer = CsvRenderer()
    assert renderer is not None


@pytest.mark.unit
def test_header_and_typed_rows_round_trip() -> None:
    rows: list[list[Cell]] = [
        ["Widget", 3, 9.99, True, date(2024, 2, 29), datetime(2024, 2, 29, 13, 5, 7)],
        ["Gadget", -5, 0.1, False, None, datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)],
        [None, None, None, None, None, None],
    ]
    data, stats = _render(_table(rows))

    assert stats == RenderStats(row_count=3, page_count=None)
    assert _parse(data) == [
        ["Name", "Qty", "Price", "Ok", "Day", "At"],
        ["Widget", "3", "9.99", "true", "2024-02-29", "2024-02-29T13:05:07"],
        ["Gadget", "-5", "0.1", "false", "", "2024-01-02T03:04:05+00:00"],
        ["", "", "", "", "", ""],
    ]


@pytest.mark.unit
def test_starts_with_a_bom_and_uses_crlf() -> None:
    data, _ = _render(_table([["a", 1, 1.5, True, None, None]]))

    assert data.startswith(codecs.BOM_UTF8)
    assert data.count(codecs.BOM_UTF8) == 1
    assert data.endswith(b"\r\n")
    assert data.count(b"\r\n") == 2
    assert data[len(codecs.BOM_UTF8) :].decode("utf-8") == (
        "Name,Qty,Price,Ok,Day,At\r\na,1,1.5,true,,\r\n"
    )


@pytest.mark.unit
def test_formula_text_is_quote_prefixed() -> None:
    payloads = ["=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1)", "\tx", "\ry", "safe"]
    columns = [Column("s", "S", ColumnType.STRING)]
    data, _ = _render(_table([[p] for p in payloads], columns))

    assert [row[0] for row in _parse(data)[1:]] == [
        "'=cmd|' /C calc'!A0",
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "'\tx",
        "'\ry",
        "safe",
    ]


@pytest.mark.unit
def test_numbers_are_never_prefixed() -> None:
    columns = [
        Column("i", "I", ColumnType.INTEGER),
        Column("f", "F", ColumnType.NUMBER),
        Column("s", "S", ColumnType.STRING),
    ]
    data, _ = _render(_table([[-5, -0.25, "-5"]], columns))

    assert _parse(data)[1] == ["-5", "-0.25", "'-5"]


@pytest.mark.unit
def test_header_labels_are_neutralised_too() -> None:
    columns = [Column("a", "=evil()", ColumnType.STRING), Column("b", "ok", ColumnType.STRING)]
    data, _ = _render(_table([], columns))

    assert _parse(data) == [["'=evil()", "ok"]]


@pytest.mark.unit
def test_commas_quotes_and_newlines_round_trip() -> None:
    tricky = ["a,b", 'say "hi"', "line1\nline2", "cr\r\nlf", '",\n"', "", " padded "]
    columns = [Column("s", "S", ColumnType.STRING)]
    data, stats = _render(_table([[t] for t in tricky], columns))

    assert stats.row_count == len(tricky)
    assert [row[0] for row in _parse(data)[1:]] == tricky
    assert b'"say ""hi"""' in data


@pytest.mark.unit
def test_non_ascii_text_round_trips() -> None:
    columns = [Column("s", "Descrição", ColumnType.STRING)]
    texts = ["Ação", "Ελληνικά", "Кириллица", "日本語", "😀"]
    data, _ = _render(_table([[t] for t in texts], columns))

    assert _parse(data) == [["Descrição"], *[[t] for t in texts]]


@pytest.mark.unit
def test_rows_as_a_one_pass_generator() -> None:
    columns = [Column("n", "N", ColumnType.INTEGER), Column("sq", "Square", ColumnType.INTEGER)]
    consumed: list[int] = []

    def rows() -> Iterator[list[Cell]]:
        for n in range(1000):
            consumed.append(n)
            yield [n, n * n]

    data, stats = _render(_table(rows(), columns))

    assert stats.row_count == 1000
    assert len(consumed) == 1000
    parsed = _parse(data)
    assert len(parsed) == 1001
    assert parsed[-1] == ["999", "998001"]


@pytest.mark.unit
def test_empty_table_writes_only_the_header() -> None:
    data, stats = _render(_table([]))

    assert stats.row_count == 0
    assert _parse(data) == [["Name", "Qty", "Price", "Ok", "Day", "At"]]


@pytest.mark.unit
def test_destination_stays_open_and_positioned_at_the_end() -> None:
    out = io.BytesIO()
    CsvRenderer().render(_table([["a", 1, 1.0, True, None, None]]), out)

    assert not out.closed
    assert out.tell() == len(out.getvalue())
    out.write(b"more")  # still writable


@pytest.mark.unit
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        (0, "0"),
        (-5, "-5"),
        (2**63 - 1, "9223372036854775807"),
        (1.0, "1.0"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e16, "1e+16"),
        (-0.5, "-0.5"),
        (True, "true"),
        (False, "false"),
        (date(2024, 1, 2), "2024-01-02"),
        (datetime(2024, 1, 2, 3, 4, 5, 600000), "2024-01-02T03:04:05.600000"),
        (
            datetime(2024, 1, 2, 3, 4, tzinfo=timezone(timedelta(hours=-3))),
            "2024-01-02T03:04:00-03:00",
        ),
        ("=x", "'=x"),
        ("x", "x"),
        (Decimal("1234.50"), "1234.50"),
        (Decimal("-0.01"), "-0.01"),
        (Decimal("NaN"), "NaN"),
    ],
)
def test_format_cell(value: Cell, expected: str) -> None:
    assert format_cell(value) == expected


@pytest.mark.unit
def test_row_of_the_wrong_width_is_a_render_error() -> None:
    columns = [Column("a", "A", ColumnType.STRING), Column("b", "B", ColumnType.STRING)]
    out = io.BytesIO()

    with pytest.raises(RenderError, match="row 2 has 1 cells; the table has 2 columns"):
        CsvRenderer().render(_table([["x", "y"], ["z"]], columns), out)
    assert not out.closed


@pytest.mark.unit
def test_unsupported_value_is_a_render_error() -> None:
    columns = [Column("a", "A", ColumnType.STRING)]

    with pytest.raises(RenderError, match="cannot write a bytes value"):
        CsvRenderer().render(_table([[b"raw"]], columns), io.BytesIO())


@pytest.mark.unit
def test_unexpected_failure_is_wrapped_and_destination_left_open() -> None:
    columns = [Column("a", "A", ColumnType.STRING)]

    def rows() -> Iterator[list[Cell]]:
        yield ["ok"]
        raise ValueError("boom")

    out = io.BytesIO()
    with pytest.raises(RenderError, match=r"could not write the CSV file \(ValueError\)") as info:
        CsvRenderer().render(_table(rows(), columns), out)
    assert isinstance(info.value.__cause__, ValueError)
    assert not out.closed


@pytest.mark.unit
def test_report_errors_from_the_rows_pass_through() -> None:
    columns = [Column("a", "A", ColumnType.STRING)]

    def rows() -> Iterator[list[Cell]]:
        raise InvalidParametersError("bad stored rows")
        yield ["never"]

    with pytest.raises(InvalidParametersError, match="bad stored rows"):
        CsvRenderer().render(_table(rows(), columns), io.BytesIO())


@pytest.mark.unit
def test_lone_surrogate_does_not_fail_the_report() -> None:
    columns = [Column("a", "A", ColumnType.STRING)]
    data, stats = _render(_table([["a\ud800b"]], columns))

    assert stats.row_count == 1
    assert _parse(data)[1] == ["a?b"]


@pytest.mark.unit
def test_writes_to_a_real_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with path.open("wb") as handle:
        stats = CsvRenderer().render(_table([["x", 1, 2.5, False, None, None]]), handle)
        assert not handle.closed
    assert stats.row_count == 1
    assert _parse(path.read_bytes())[1] == ["x", "1", "2.5", "false", "", ""]


@pytest.mark.unit
@pytest.mark.parametrize("make_row", [tuple, list, lambda values: Record(*values)])
def test_database_rows_are_written_and_formulas_neutralised(make_row: Any) -> None:
    # Thousands of clean rows go through the fast paths; the formulas hide among them.
    rows = [make_row(expense(n)) for n in range(2500)]
    rows[1700] = make_row(expense(1700, who="=cmd|' /C calc'!A0"))
    rows[2] = make_row(expense(2, who="@SUM(A1)"))
    data, stats = _render(_table(rows, EXPENSES))
    parsed = _parse(data)

    assert stats.row_count == 2500
    assert len(parsed) == 2501
    assert parsed[1] == ["0", "2025-07-01T08:05:09", "Ana", "1234.50", "true", "2025-07-02"]
    assert parsed[2][4] == "false"
    assert parsed[3][2] == "'@SUM(A1)"
    assert parsed[1701][2] == "'=cmd|' /C calc'!A0"
    assert [row[0] for row in parsed[1:]] == [str(n) for n in range(2500)]


@pytest.mark.unit
def test_text_in_a_non_text_column_is_still_neutralised() -> None:
    # A data source returning text where a number was declared must not bypass the guard.
    columns = [
        Column("i", "I", ColumnType.INTEGER),
        Column("n", "N", ColumnType.NUMBER),
        Column("b", "B", ColumnType.BOOLEAN),
        Column("d", "D", ColumnType.DATE),
    ]
    rows = [(1, Decimal("1.00"), True, date(2024, 1, 1))] * 10 + [("=1+1", "+2", "-3", "@x")]
    data, _ = _render(_table(rows, columns))

    assert _parse(data)[-1] == ["'=1+1", "'+2", "'-3", "'@x"]


@pytest.mark.unit
def test_fullwidth_formula_signs_are_neutralised_in_text_columns() -> None:
    columns = [Column("s", "\uff1dHEADER()", ColumnType.STRING)]
    rows = [("plain",)] * 10 + [("\uff1d1+1",), ("\uff0b2",), ("\uff0d3",), ("\uff20x",)]
    parsed = _parse(_render(_table(rows, columns))[0])

    assert parsed[0] == ["'\uff1dHEADER()"]
    assert [row[0] for row in parsed[-4:]] == ["'\uff1d1+1", "'\uff0b2", "'\uff0d3", "'\uff20x"]


@pytest.mark.unit
def test_decimal_amounts_are_written_as_given() -> None:
    columns = [Column("amount", "Amount", ColumnType.NUMBER)]
    values = [Decimal("1234.50"), Decimal("-0.01"), Decimal("0.00"), Decimal("99999999.99"), None]
    data, _ = _render(_table([(v,) for v in values], columns))

    assert [row[0] for row in _parse(data)[1:]] == ["1234.50", "-0.01", "0.00", "99999999.99", ""]


@pytest.mark.unit
def test_mixed_numbers_in_one_column() -> None:
    columns = [Column("n", "N", ColumnType.NUMBER)]
    values: list[Any] = [1, 2.5, Decimal("3.10"), None, -0.25, float("nan"), True]
    data, _ = _render(_table([(v,) for v in values], columns))

    assert [row[0] for row in _parse(data)[1:]] == ["1", "2.5", "3.10", "", "-0.25", "nan", "true"]


@pytest.mark.unit
def test_naive_aware_and_missing_datetimes() -> None:
    columns = [Column("at", "At", ColumnType.DATETIME)]
    brt = timezone(timedelta(hours=-3))
    naive = [(datetime(2025, 1, 2, 3, 4, 5),), (datetime(2025, 1, 2, 3, 4, 5, 600000),)]
    aware = [(datetime(2025, 1, 2, 22, 30, tzinfo=brt),), (datetime(2025, 1, 3, tzinfo=UTC),)]
    mixed = [(None,), (datetime(2025, 1, 2, 3, 4, 5),), (datetime(2025, 1, 2, tzinfo=UTC),)]

    assert [r[0] for r in _parse(_render(_table(naive, columns))[0])[1:]] == [
        "2025-01-02T03:04:05",
        "2025-01-02T03:04:05.600000",
    ]
    assert [r[0] for r in _parse(_render(_table(aware, columns))[0])[1:]] == [
        "2025-01-02T22:30:00-03:00",
        "2025-01-03T00:00:00+00:00",
    ]
    assert [r[0] for r in _parse(_render(_table(mixed, columns))[0])[1:]] == [
        "",
        "2025-01-02T03:04:05",
        "2025-01-02T00:00:00+00:00",
    ]


@pytest.mark.unit
def test_booleans_and_dates_with_missing_values() -> None:
    columns = [Column("b", "B", ColumnType.BOOLEAN), Column("d", "D", ColumnType.DATE)]
    rows = [(True, date(2024, 2, 29)), (None, None), (False, datetime(2024, 3, 1, 12, 0))]
    data, _ = _render(_table(rows, columns))

    assert _parse(data)[1:] == [
        ["true", "2024-02-29"],
        ["", ""],
        ["false", "2024-03-01T12:00:00"],
    ]


@pytest.mark.unit
def test_wrong_width_far_into_the_stream_names_its_row() -> None:
    rows: list[Any] = [expense(n) for n in range(2345)]
    rows.append(Record(1, 2))

    with pytest.raises(RenderError, match="row 2346 has 2 cells; the table has 6 columns"):
        CsvRenderer().render(_table(rows, EXPENSES), io.BytesIO())


@pytest.mark.unit
@pytest.mark.parametrize("column", range(6))
@pytest.mark.parametrize("value", [b"raw", object(), [1, 2], {"a": 1}])
def test_unwritable_value_in_any_column_is_a_render_error(column: int, value: Any) -> None:
    rows: list[Any] = [list(expense(n)) for n in range(1500)]
    rows[1234][column] = value

    with pytest.raises(RenderError, match=f"cannot write a {type(value).__name__} value"):
        CsvRenderer().render(_table(rows, EXPENSES), io.BytesIO())


@pytest.mark.unit
def test_rows_are_read_a_bounded_batch_ahead() -> None:
    pulled = 0
    written_when: list[int] = []

    def rows() -> Iterator[tuple[Any, ...]]:
        nonlocal pulled
        for n in range(5000):
            pulled += 1
            yield expense(n)

    class Spy(io.BytesIO):
        def write(self, data: Any, /) -> int:
            written_when.append(pulled)
            return super().write(data)

    stats = CsvRenderer().render(_table(rows(), EXPENSES), Spy())

    assert stats.row_count == 5000
    # Output flows while rows are still being read; never more than a batch ahead.
    assert written_when[1] <= 1000 + 1
    assert min(written_when[1:]) < 5000
