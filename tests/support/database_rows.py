"""Rows shaped like those the reporting database streams, for renderer tests."""

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from relatoria_shared.domain.table import Column, ColumnType


class Record:
    """Like an `asyncpg.Record`: sized, indexable and iterable, but no list or tuple."""

    def __init__(self, *values: Any) -> None:
        self._values = values

    def __len__(self) -> int:
        return len(self._values)

    def __getitem__(self, index: int) -> Any:
        return self._values[index]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)


EXPENSES = [
    Column("id", "Id", ColumnType.INTEGER),
    Column("at", "At", ColumnType.DATETIME),
    Column("who", "Who", ColumnType.STRING),
    Column("amount", "Amount", ColumnType.NUMBER),
    Column("paid", "Paid", ColumnType.BOOLEAN),
    Column("day", "Day", ColumnType.DATE),
]
"""Columns of an expenses query: every type a database row brings."""


def expense(n: int, who: str = "Ana") -> tuple[Any, ...]:
    """Row `n` of EXPENSES, with a Decimal amount and a naive datetime."""
    return (n, datetime(2025, 7, 1, 8, 5, 9), who, Decimal("1234.50"), n % 2 == 0, date(2025, 7, 2))
