"""Validation of inline table requests: what is refused, with which code and path."""

from typing import Any

import pytest

from relatoria_shared.catalog import validate_request
from relatoria_shared.domain.table import ColumnType, columns_from_stored, typed_rows
from relatoria_shared.domain.table_validation import TableLimits, validate_table_parameters
from relatoria_shared.domain.validation import RejectionCode, RequestRejected

pytestmark = pytest.mark.unit

LIMITS = TableLimits(max_rows=10, max_columns=5, max_cell_chars=20)
COLUMNS = [
    {"key": "name", "label": "Name", "type": "string"},
    {"key": "qty", "label": "Qty", "type": "integer"},
    {"key": "price", "label": "Price", "type": "number"},
    {"key": "paid", "label": "Paid", "type": "boolean"},
    {"key": "day", "label": "Day", "type": "date"},
]


def rejection(parameters: Any, limits: TableLimits = LIMITS) -> RequestRejected:
    with pytest.raises(RequestRejected) as caught:
        validate_table_parameters(parameters, limits)
    return caught.value


def test_rows_as_lists_and_objects_normalise_to_lists_in_column_order() -> None:
    out = validate_table_parameters(
        {
            "columns": COLUMNS,
            "rows": [
                ["Ana", 2, 1.5, True, "2026-03-01"],
                {"day": "2026-03-02", "name": "Bruno", "qty": None, "price": 3},
            ],
        },
        LIMITS,
    )
    assert out["rows"] == [
        ["Ana", 2, 1.5, True, "2026-03-01"],
        ["Bruno", None, 3, None, "2026-03-02"],
    ]


def test_label_defaults_to_key() -> None:
    out = validate_table_parameters({"columns": [{"key": "a", "type": "string"}]}, LIMITS)
    assert out["columns"] == [{"key": "a", "label": "a", "type": "string"}]


def test_missing_columns() -> None:
    assert rejection({"rows": []}).first.code is RejectionCode.MISSING_COLUMNS
    assert rejection({"columns": []}).first.path == "parameters.columns"


def test_duplicate_column_points_at_the_second_one() -> None:
    cols = [{"key": "a", "type": "string"}, {"key": "a", "type": "integer"}]
    first = rejection({"columns": cols}).first
    assert (first.code, first.path) == (RejectionCode.DUPLICATE_COLUMN, "parameters.columns[1].key")


def test_unknown_column_type() -> None:
    first = rejection({"columns": [{"key": "a", "type": "money"}]}).first
    assert (first.code, first.path) == (RejectionCode.INVALID_COLUMN, "parameters.columns[0].type")


def test_too_many_columns() -> None:
    cols = [{"key": f"c{i}", "type": "string"} for i in range(6)]
    assert rejection({"columns": cols}).first.code is RejectionCode.TOO_MANY_COLUMNS


def test_row_width_mismatch() -> None:
    first = rejection({"columns": COLUMNS, "rows": [["Ana", 1]]}).first
    assert (first.code, first.path) == (RejectionCode.ROW_WIDTH_MISMATCH, "parameters.rows[0]")


def test_unknown_key_in_object_row() -> None:
    first = rejection({"columns": COLUMNS, "rows": [{"name": "x", "colour": "red"}]}).first
    assert (first.code, first.path) == (RejectionCode.UNKNOWN_ROW_KEY, "parameters.rows[0].colour")


@pytest.mark.parametrize(
    ("cells", "bad_index"),
    [
        (["Ana", "2", 1.5, True, "2026-03-01"], 1),  # integer as a string
        (["Ana", True, 1.5, True, "2026-03-01"], 1),  # a boolean is not an integer
        (["Ana", 1.5, 1.5, True, "2026-03-01"], 1),  # a float is not an integer
        (["Ana", 2, "1.5", True, "2026-03-01"], 2),
        (["Ana", 2, float("nan"), True, "2026-03-01"], 2),
        (["Ana", 2, 1.5, "yes", "2026-03-01"], 3),
        (["Ana", 2, 1.5, True, "01/03/2026"], 4),
        (["Ana", 2, 1.5, True, "2026-02-30"], 4),
        ([42, 2, 1.5, True, "2026-03-01"], 0),
    ],
)
def test_wrong_cell_types_name_the_cell(cells: list[Any], bad_index: int) -> None:
    first = rejection({"columns": COLUMNS, "rows": [cells, cells]}).first
    assert first.code is RejectionCode.INVALID_CELL_TYPE
    assert first.path == f"parameters.rows[0][{bad_index}]"


def test_object_row_paths_use_the_column_key() -> None:
    first = rejection({"columns": COLUMNS, "rows": [{"qty": "many"}]}).first
    assert first.path == "parameters.rows[0].qty"


def test_every_violation_is_reported_up_to_a_cap() -> None:
    rows = [["Ana", "x", 1, True, None]] * 10
    violations = rejection({"columns": COLUMNS, "rows": rows}).violations
    assert [v.path for v in violations[:2]] == ["parameters.rows[0][1]", "parameters.rows[1][1]"]


def test_limits_on_rows_and_cell_length() -> None:
    rows = [["a", 1, 1, True, None]] * 11
    assert rejection({"columns": COLUMNS, "rows": rows}).first.code is RejectionCode.TOO_MANY_ROWS
    long_cell = [["x" * 21, 1, 1, True, None]]
    first = rejection({"columns": COLUMNS, "rows": long_cell}).first
    assert (first.code, first.path) == (RejectionCode.CELL_TOO_LONG, "parameters.rows[0][0]")


def test_unknown_parameter_is_refused() -> None:
    first = rejection({"columns": COLUMNS, "rowz": []}).first
    assert first.path == "parameters.rowz"


def test_unknown_type_and_format() -> None:
    with pytest.raises(RequestRejected) as caught:
        validate_request("pie_chart", "xlsx", "t", {}, LIMITS)
    assert (caught.value.first.code, caught.value.first.path) == (
        RejectionCode.UNKNOWN_REPORT_TYPE,
        "type",
    )
    with pytest.raises(RequestRejected) as caught:
        validate_request("table", "docx", "t", {"columns": COLUMNS}, LIMITS)
    assert caught.value.first.code is RejectionCode.UNSUPPORTED_FORMAT


def test_stored_rows_decode_to_typed_cells() -> None:
    stored = validate_table_parameters(
        {
            "columns": [*COLUMNS, {"key": "at", "type": "datetime"}],
            "rows": [["Ana", 2, 1.5, True, "2026-03-01", "2026-03-01T10:00:00Z"]],
        },
        TableLimits(),
    )
    columns = columns_from_stored(stored["columns"])
    assert columns[5].type is ColumnType.DATETIME
    (row,) = list(typed_rows(columns, stored["rows"]))
    assert [type(v).__name__ for v in row] == ["str", "int", "float", "bool", "date", "datetime"]
    assert row[5].utcoffset().total_seconds() == 0  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("parameters", "path"),
    [
        (
            {"columns": [{"key": "a", "type": "string"}], "rows": [["nul\x00byte"]]},
            "parameters.rows[0][0]",
        ),
        (
            {"columns": [{"key": "a", "type": "string"}], "rows": [["\ud800"]]},
            "parameters.rows[0][0]",
        ),
        (
            {"columns": [{"key": "a", "label": "bad\x00", "type": "string"}]},
            "parameters.columns[0].label",
        ),
    ],
)
def test_text_postgresql_cannot_store_is_refused(parameters: Any, path: str) -> None:
    first = rejection(parameters).first
    assert (first.code, first.path) == (RejectionCode.INVALID_TEXT, path)


def test_title_text_is_checked() -> None:
    with pytest.raises(RequestRejected) as caught:
        validate_request("table", "csv", "a\x00b", {"columns": COLUMNS}, LIMITS)
    assert (caught.value.first.code, caught.value.first.path) == (
        RejectionCode.INVALID_TEXT,
        "title",
    )


@pytest.mark.parametrize("type_", [[], {}, 1, None])
def test_a_column_type_of_the_wrong_kind_is_refused_not_crashed(type_: Any) -> None:
    first = rejection({"columns": [{"key": "a", "type": type_}]}).first
    assert (first.code, first.path) == (RejectionCode.INVALID_COLUMN, "parameters.columns[0].type")


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("date", "1899-12-31"),
        ("datetime", "9999-12-31T23:59:59-12:00"),  # past year 9999 once in UTC
        ("datetime", "0001-01-01T00:00:00+01:00"),
    ],
)
def test_dates_spreadsheets_cannot_hold_are_refused(kind: str, value: str) -> None:
    first = rejection({"columns": [{"key": "d", "type": kind}], "rows": [[value]]}).first
    assert first.code is RejectionCode.INVALID_CELL_TYPE
