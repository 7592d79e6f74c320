"""Where a report's rows come from: inline in its request, or its type's query."""

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from relatoria_shared.catalog import CATALOG
from relatoria_shared.domain.errors import InvalidParametersError
from relatoria_shared.domain.report import Job
from relatoria_shared.domain.table import Cell, Column, columns_from_stored, typed_rows
from relatoria_worker.data_source import ReportingDatabase


@dataclass(frozen=True)
class RowSource:
    """A report's columns and its rows (one pass, read in the render thread), with the
    number of rows expected when known."""

    columns: Sequence[Column]
    rows: Iterable[Sequence[Cell]]
    expected_rows: int | None
    exact: bool = False
    """Whether `expected_rows` is the count itself (an inline table's), not an estimate."""


class RowSources:
    """Opens the row source of a claimed request."""

    def __init__(self, reporting: ReportingDatabase) -> None:
        self._reporting = reporting

    @contextlib.asynccontextmanager
    async def open(self, job: Job, check_stop: Callable[[], None]) -> AsyncIterator[RowSource]:
        """The rows of `job`'s report, open for as long as the context lasts;
        `check_stop` raises in the render thread once the job must stop."""
        report_type = job.record.report_type
        info = CATALOG.get(report_type)
        if info is None:
            raise InvalidParametersError(f"unknown report type {report_type!r}")
        if info.data_source is None:
            yield _inline(job.parameters)
            return
        try:
            query = info.data_source.query(job.parameters)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise InvalidParametersError(f"the stored parameters are unusable: {exc}") from None
        async with self._reporting.stream(query, check_stop) as stream:
            yield RowSource(
                columns=info.data_source.columns,
                rows=stream.rows,
                expected_rows=stream.estimated_rows,
            )


def _inline(parameters: dict[str, Any]) -> RowSource:
    try:
        columns = columns_from_stored(parameters["columns"])
        rows = parameters.get("rows", [])
        expected = len(rows)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidParametersError(f"the stored parameters are unusable: {exc}") from None
    return RowSource(
        columns=columns, rows=typed_rows(columns, rows), expected_rows=expected, exact=True
    )
