"""Tables as every report draws them: typed columns, typed cells, and the decoding of
a stored table into the cells renderers receive (the inline table's validation is in
`table_validation`)."""

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from relatoria_shared.domain.errors import InvalidParametersError

Cell = str | int | float | bool | date | datetime | None
"""A typed cell value as the renderers receive it."""


class ColumnType(StrEnum):
    """The type every cell of a column must have."""

    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"


@dataclass(frozen=True)
class Column:
    """One column of a table report."""

    key: str
    label: str
    type: ColumnType


@dataclass(frozen=True)
class TableData:
    """What a renderer draws: a title, typed columns and typed rows (possibly streamed)."""

    title: str
    columns: Sequence[Column]
    rows: Iterable[Sequence[Cell]]
    generated_at: datetime


def columns_from_stored(stored: Sequence[Mapping[str, Any]]) -> list[Column]:
    """Rebuild columns from their normalised, stored form."""
    return [Column(key=c["key"], label=c["label"], type=ColumnType(c["type"])) for c in stored]


def typed_rows(columns: Sequence[Column], rows: Iterable[Sequence[Any]]) -> Iterator[list[Cell]]:
    """Decode normalised rows into the typed cells renderers draw (dates become `date`s)."""
    decoders = [_DECODERS.get(c.type, _identity) for c in columns]
    for number, row in enumerate(rows, start=1):
        if len(row) != len(decoders):
            raise InvalidParametersError(
                f"row {number} has {len(row)} cells; the table has {len(decoders)} columns"
            )
        yield [None if v is None else decode(v) for decode, v in zip(decoders, row, strict=True)]


def _identity(value: Any) -> Cell:
    return value  # type: ignore[no-any-return]


def _decode_number(value: Any) -> Cell:
    return float(value) if isinstance(value, float) else int(value)


_DECODERS: dict[ColumnType, Callable[[Any], Cell]] = {
    ColumnType.DATE: date.fromisoformat,
    ColumnType.DATETIME: datetime.fromisoformat,
    ColumnType.NUMBER: _decode_number,
}
