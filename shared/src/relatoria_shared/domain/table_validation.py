"""The `table` report type's validation: columns and rows carried inline in the request.

Validation turns the client's JSON into a normalised form (rows as lists in column
order, dates in ISO form) that is stored and later decoded by the worker into typed
Python values for the renderers (`domain.table`).
"""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from relatoria_shared.domain.table import Column, ColumnType
from relatoria_shared.domain.validation import (
    RejectionCode,
    RequestRejected,
    Violation,
    text_problem,
)

MAX_VIOLATIONS = 20
_INT64_MAX = 2**63 - 1
_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\- ]{0,63}$")
_DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_PATTERN = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?$"
)


_MIN_YEAR, _MAX_YEAR = 1900, 9999  # what spreadsheets can represent


_COLUMN_TYPES = {t.value: t for t in ColumnType}
_COLUMN_FIELDS = frozenset({"key", "label", "type"})
_ROWS_PATH = "parameters.rows"


@dataclass(frozen=True)
class TableLimits:
    """Bounds on what one inline table may hold."""

    max_rows: int = 50_000
    max_pdf_rows: int | None = None  # a PDF's own cap, when lower than max_rows
    max_columns: int = 100
    max_cell_chars: int = 32_767


class _Collector:
    def __init__(self) -> None:
        self.violations: list[Violation] = []

    def add(self, code: RejectionCode, path: str, message: str) -> None:
        if len(self.violations) < MAX_VIOLATIONS:
            self.violations.append(Violation(code, path, message))

    @property
    def full(self) -> bool:
        return len(self.violations) >= MAX_VIOLATIONS

    def raise_if_any(self) -> None:
        if self.violations:
            raise RequestRejected(self.violations)


def validate_table_parameters(parameters: Any, limits: TableLimits) -> dict[str, Any]:
    """Check a `table` report's parameters and return their normalised, storable form.

    Raises `RequestRejected` listing what is wrong, each with the field's path.
    """
    base = "parameters"
    if not isinstance(parameters, Mapping):
        _reject(RejectionCode.VALIDATION_ERROR, base, "parameters must be an object")
    unknown = sorted(set(parameters) - {"columns", "rows"})
    if unknown:
        _reject(
            RejectionCode.VALIDATION_ERROR,
            f"{base}.{unknown[0]}",
            f"unknown parameter {unknown[0]!r}; a table takes 'columns' and 'rows'",
        )
    columns = _validate_columns(parameters.get("columns"), limits)
    rows = _validate_rows(parameters.get("rows"), columns, limits)
    return {
        "columns": [{"key": c.key, "label": c.label, "type": c.type.value} for c in columns],
        "rows": rows,
    }


def _reject(code: RejectionCode, path: str, message: str) -> Any:
    raise RequestRejected([Violation(code, path, message)])


def _validate_columns(raw: Any, limits: TableLimits) -> list[Column]:
    path = "parameters.columns"
    if raw is None or (isinstance(raw, list) and not raw):
        _reject(RejectionCode.MISSING_COLUMNS, path, "a table needs at least one column")
    if not isinstance(raw, list):
        _reject(RejectionCode.VALIDATION_ERROR, path, "columns must be a list")
    if len(raw) > limits.max_columns:
        _reject(
            RejectionCode.TOO_MANY_COLUMNS,
            path,
            f"{len(raw)} columns given; at most {limits.max_columns} are allowed",
        )
    found = _Collector()
    columns: list[Column] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        column = _parse_column(item, f"{path}[{index}]", found)
        if column is None:
            continue
        if column.key in seen:
            found.add(
                RejectionCode.DUPLICATE_COLUMN,
                f"{path}[{index}].key",
                f"column key {column.key!r} appears more than once",
            )
        seen.add(column.key)
        columns.append(column)
    found.raise_if_any()
    return columns


def _parse_column(item: Any, path: str, found: _Collector) -> Column | None:
    problem = _column_problem(item)
    if problem is not None:
        code, where, message = problem
        found.add(code, f"{path}{where}", message)
        return None
    key = item["key"]
    return Column(key=key, label=item.get("label", key), type=_COLUMN_TYPES[item["type"]])


def _column_problem(item: Any) -> tuple[RejectionCode, str, str] | None:
    """What is wrong with one column definition: (code, path suffix, message), or None."""
    if not isinstance(item, Mapping):
        return RejectionCode.INVALID_COLUMN, "", "a column must be an object {key, label, type}"
    if not _COLUMN_FIELDS.issuperset(item):
        unknown = sorted(set(item) - _COLUMN_FIELDS)
        return RejectionCode.INVALID_COLUMN, f".{unknown[0]}", "unknown column field"
    key, label, type_ = item.get("key"), item.get("label", item.get("key")), item.get("type")
    if not isinstance(key, str) or not _KEY_PATTERN.match(key):
        message = "key must be 1-64 characters: letters, digits, '_', '.', '-' or spaces"
        return RejectionCode.INVALID_COLUMN, ".key", message
    if problem := _label_problem(label):
        return problem
    if not isinstance(type_, str) or type_ not in _COLUMN_TYPES:
        allowed = ", ".join(t.value for t in ColumnType)
        return RejectionCode.INVALID_COLUMN, ".type", f"type must be one of: {allowed}"
    return None


def _label_problem(label: Any) -> tuple[RejectionCode, str, str] | None:
    if not isinstance(label, str) or not 1 <= len(label) <= 200:
        return RejectionCode.INVALID_COLUMN, ".label", "label must be 1-200 characters"
    if problem := text_problem(label):
        return RejectionCode.INVALID_TEXT, ".label", problem
    return None


def _validate_rows(raw: Any, columns: list[Column], limits: TableLimits) -> list[list[Any]]:
    path = _ROWS_PATH
    if raw is None:
        return []
    if not isinstance(raw, list):
        _reject(RejectionCode.VALIDATION_ERROR, path, "rows must be a list")
    if len(raw) > limits.max_rows:
        _reject(
            RejectionCode.TOO_MANY_ROWS,
            path,
            f"{len(raw)} rows given; at most {limits.max_rows} are allowed inline",
        )
    found = _Collector()
    keys = {c.key: i for i, c in enumerate(columns)}
    # A cell's path is built only when it is reported: most tables have nothing to report.
    list_suffixes = [f"[{i}]" for i in range(len(columns))]
    mapping_suffixes = [f".{c.key}" for c in columns]
    rows: list[list[Any]] = []
    for index, row in enumerate(raw):
        if found.full:
            break
        if isinstance(row, list):
            if len(row) != len(columns):
                found.add(
                    RejectionCode.ROW_WIDTH_MISMATCH,
                    f"{path}[{index}]",
                    f"row has {len(row)} cells; the table has {len(columns)} columns",
                )
                continue
            values, suffixes = row, list_suffixes
        elif isinstance(row, Mapping):
            stray = [k for k in row if k not in keys]
            if stray:
                found.add(
                    RejectionCode.UNKNOWN_ROW_KEY,
                    f"{path}[{index}].{stray[0]}",
                    f"{stray[0]!r} is not a column key",
                )
                continue
            values, suffixes = [row.get(c.key) for c in columns], mapping_suffixes
        else:
            found.add(
                RejectionCode.INVALID_ROW, f"{path}[{index}]", "a row must be a list or an object"
            )
            continue
        rows.append(
            [
                _normalise_cell(value, column, index, suffix, limits, found)
                for value, column, suffix in zip(values, columns, suffixes, strict=True)
            ]
        )
    found.raise_if_any()
    return rows


_INVALID = object()


def _cell_path(row: int, suffix: str) -> str:
    return f"{_ROWS_PATH}[{row}]{suffix}"


def _check_string(value: Any) -> Any:
    return value if isinstance(value, str) else _INVALID


def _check_integer(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > _INT64_MAX:
        return _INVALID
    return value


def _check_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _INVALID
    if isinstance(value, float) and not math.isfinite(value):
        return _INVALID
    if isinstance(value, int) and abs(value) > _INT64_MAX:
        return _INVALID
    return value


def _check_boolean(value: Any) -> Any:
    return value if isinstance(value, bool) else _INVALID


def _check_date(value: Any) -> Any:
    parsed = _parse_date(value)
    return _INVALID if parsed is None else parsed.isoformat()


def _check_datetime(value: Any) -> Any:
    parsed = _parse_datetime(value)
    return _INVALID if parsed is None else parsed.isoformat()


_CHECKERS = {
    ColumnType.STRING: _check_string,
    ColumnType.INTEGER: _check_integer,
    ColumnType.NUMBER: _check_number,
    ColumnType.BOOLEAN: _check_boolean,
    ColumnType.DATE: _check_date,
    ColumnType.DATETIME: _check_datetime,
}


def _normalise_cell(  # noqa: PLR0917 - called per cell: keywords cost ~0.5 µs a call
    value: Any, column: Column, row: int, suffix: str, limits: TableLimits, found: _Collector
) -> Any:
    if value is None:
        return None
    normalised = _CHECKERS[column.type](value)
    if normalised is _INVALID:
        _wrong_type(value, column, _cell_path(row, suffix), found)
        return None
    if isinstance(normalised, str):
        if len(normalised) > limits.max_cell_chars:
            found.add(
                RejectionCode.CELL_TOO_LONG,
                _cell_path(row, suffix),
                f"cell has {len(normalised)} characters; "
                f"at most {limits.max_cell_chars} are allowed",
            )
        problem = text_problem(normalised)
        if problem:
            found.add(RejectionCode.INVALID_TEXT, _cell_path(row, suffix), problem)
    return normalised


def _wrong_type(value: Any, column: Column, path: str, found: _Collector) -> None:
    expected = {
        ColumnType.DATE: f"a date as YYYY-MM-DD between {_MIN_YEAR} and {_MAX_YEAR}",
        ColumnType.DATETIME: f"an ISO 8601 date-time between {_MIN_YEAR} and {_MAX_YEAR}",
    }.get(column.type, f"a {column.type.value}")
    found.add(
        RejectionCode.INVALID_CELL_TYPE,
        path,
        f"column {column.key!r} expects {expected} or null; got {_describe(value)}",
    )


def _describe(value: Any) -> str:
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return f"a{'n' if type(value).__name__[0] in 'aeiou' else ''} {type(value).__name__}"


def _parse_date(value: Any) -> date | None:
    if not isinstance(value, str) or not _DATE_PATTERN.match(value):
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        return None
    return parsed if _MIN_YEAR <= parsed.year <= _MAX_YEAR else None


def _parse_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not _DATETIME_PATTERN.match(value):
        return None
    try:
        parsed = datetime.fromisoformat(value)
        # Renderers convert to UTC; the result must stay representable.
        in_utc = parsed.astimezone(UTC) if parsed.tzinfo else parsed
    except (ValueError, OverflowError):
        return None
    return parsed if _MIN_YEAR <= in_utc.year <= _MAX_YEAR else None


TABLE_PARAMETERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["columns"],
    "properties": {
        "columns": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["key", "type"],
                "properties": {
                    "key": {"type": "string", "pattern": _KEY_PATTERN.pattern},
                    "label": {"type": "string", "minLength": 1, "maxLength": 200},
                    "type": {"enum": [t.value for t in ColumnType]},
                },
            },
        },
        "rows": {
            "type": "array",
            "description": "Each row is a list in column order or an object keyed by column key; "
            "cells may be null. Dates are YYYY-MM-DD, date-times ISO 8601.",
            "items": {"oneOf": [{"type": "array"}, {"type": "object"}]},
        },
    },
}
