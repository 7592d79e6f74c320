"""Reading rows in bounded batches, each row's width checked."""

from collections.abc import Iterator
from typing import Any

import pytest

from relatoria_shared.domain.errors import RenderError
from relatoria_worker.renderers.base import BATCH_ROWS, row_batches, value_types


@pytest.mark.unit
def test_batches_hold_every_row_in_order() -> None:
    rows = [(n, str(n)) for n in range(2 * BATCH_ROWS + 7)]

    batches = list(row_batches(rows, 2))

    assert [len(b) for b in batches] == [BATCH_ROWS, BATCH_ROWS, 7]
    assert [row for batch in batches for row in batch] == rows


@pytest.mark.unit
def test_no_rows_no_batches() -> None:
    assert list(row_batches([], 3)) == []


@pytest.mark.unit
def test_reads_one_batch_at_a_time() -> None:
    pulled = 0

    def rows() -> Iterator[tuple[int]]:
        nonlocal pulled
        for n in range(25):
            pulled += 1
            yield (n,)

    batches = row_batches(rows(), 1, size=10)
    assert pulled == 0
    next(batches)
    assert pulled == 10
    next(batches)
    assert pulled == 20


@pytest.mark.unit
@pytest.mark.parametrize(("bad", "size"), [(0, 10), (9, 10), (10, 10), (23, 10), (4, 1)])
def test_a_row_of_the_wrong_width_is_named_by_its_number(bad: int, size: int) -> None:
    rows: list[Any] = [(n, n) for n in range(25)]
    rows[bad] = (1, 2, 3)

    with pytest.raises(RenderError, match=f"row {bad + 1} has 3 cells; the table has 2 columns"):
        list(row_batches(rows, 2, size=size))


@pytest.mark.unit
def test_value_types_are_exact() -> None:
    assert value_types([1, True, None, "a", 1.5]) == {int, bool, type(None), str, float}
    assert bool not in value_types([1, 2])
