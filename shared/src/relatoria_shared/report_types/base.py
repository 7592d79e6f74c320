"""What a data-source report type is: parameters, columns and one parameterised query.

A report type is data, not code that runs queries: its SQL text takes positional
parameters (`$1`, `$2`, ...) bound from the validated parameters, never formatted into
the text. The worker's data-source adapter runs it, read-only, against the reporting
database the operator configured.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, ValidationError

from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.table import Column
from relatoria_shared.domain.validation import RejectionCode, RequestRejected, Violation
from relatoria_shared.report_types.demo_dataset import DEPARTMENTS

EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)
"""The dates a report parameter may name."""

Check = Callable[[Any, ReportFormat], list[Violation]]


@dataclass(frozen=True)
class ReportQuery:
    """SQL text with positional parameters, and the values bound to them."""

    sql: str
    arguments: tuple[Any, ...]


@dataclass(frozen=True)
class DataSourceReport:
    """A report type whose rows a query reads from the reporting database."""

    name: str
    title: str
    description: str
    parameters: type[BaseModel]
    columns: tuple[Column, ...]
    sql: str
    arguments: Callable[[Any], tuple[Any, ...]]
    checks: tuple[Check, ...] = ()
    formats: tuple[ReportFormat, ...] = tuple(ReportFormat)
    lane: Lane = Lane.BULK

    @property
    def parameters_schema(self) -> dict[str, Any]:
        """The JSON Schema of the parameters, as served by `/v1/report-types`."""
        return self.parameters.model_json_schema(by_alias=True)

    def validate(self, raw: Any, fmt: ReportFormat) -> dict[str, Any]:
        """Check `raw` parameters for `fmt`; return their normalised, storable form.

        Raises `RequestRejected` with every problem found, each with its field's path.
        """
        if not isinstance(raw, Mapping):
            raise _rejected(RejectionCode.VALIDATION_ERROR, "parameters", "must be an object")
        try:
            model = self.parameters.model_validate(raw)
        except ValidationError as exc:
            raise RequestRejected([_violation(e) for e in exc.errors()[:20]]) from None
        violations = [v for check in self.checks for v in check(model, fmt)]
        if violations:
            raise RequestRejected(violations)
        return model.model_dump(mode="json", by_alias=True)

    def query(self, stored: Mapping[str, Any]) -> ReportQuery:
        """The query for stored (already validated) parameters."""
        model = self.parameters.model_validate(stored)
        return ReportQuery(self.sql, self.arguments(model))


def _rejected(code: RejectionCode, path: str, message: str) -> RequestRejected:
    return RequestRejected([Violation(code, path, message)])


def _violation(error: Any) -> Violation:
    path = "parameters" + "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
    )
    kind = error["type"]
    if kind == "extra_forbidden":
        return Violation(RejectionCode.VALIDATION_ERROR, path, "unknown parameter")
    if kind == "missing":
        return Violation(RejectionCode.VALIDATION_ERROR, path, "this parameter is required")
    return Violation(RejectionCode.INVALID_PARAMETER, path, str(error["msg"]))


def check_department(model: Any, _fmt: ReportFormat) -> list[Violation]:
    """A named department must be one the reporting data has."""
    code = getattr(model, "department", None)
    if code is None or code in DEPARTMENTS:
        return []
    known = ", ".join(DEPARTMENTS)
    return [
        Violation(
            RejectionCode.UNKNOWN_DEPARTMENT,
            "parameters.department",
            f"unknown department {code!r}; known: {known}",
        )
    ]


def date_range_check(max_days: Mapping[ReportFormat, int]) -> Check:
    """A check that `startDate..endDate` is ordered, sane, and at most `max_days[fmt]` long."""

    def check(model: Any, fmt: ReportFormat) -> list[Violation]:
        start: date = model.start_date
        end: date = model.end_date
        found = [
            Violation(
                RejectionCode.PARAMETER_OUT_OF_RANGE,
                f"parameters.{name}",
                f"must be between {EARLIEST.isoformat()} and {LATEST.isoformat()}",
            )
            for name, value in (("startDate", start), ("endDate", end))
            if not EARLIEST <= value <= LATEST
        ]
        if found:
            return found
        if end < start:
            return [
                Violation(
                    RejectionCode.INVALID_DATE_RANGE,
                    "parameters.endDate",
                    "endDate must not be before startDate",
                )
            ]
        days = (end - start).days + 1
        limit = max_days.get(fmt)
        if limit is not None and days > limit:
            hint = " (CSV and XLSX allow longer ranges)" if fmt is ReportFormat.PDF else ""
            return [
                Violation(
                    RejectionCode.DATE_RANGE_TOO_WIDE,
                    "parameters.endDate",
                    f"a {fmt.value.upper()} of this report covers at most {limit} days; "
                    f"{days} requested{hint}",
                )
            ]
        return []

    return check
