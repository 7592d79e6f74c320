"""Unit tests for the CSV renderer: encoding, quoting, typed values, injection guard."""

import codecs
import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from relatoria_shared.domain.errors import InvalidParametersError, RenderError
from relatoria_shared.domain.table import Cell, Column, ColumnType, TableData
from relatoria_worker.renderers import csv as csv_renderer_module
from relatoria_worker.renderers.base import Renderer, RenderStats
from relatoria_worker.renderers.csv import CsvRenderer, format_cell

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
