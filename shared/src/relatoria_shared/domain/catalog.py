"""The catalog of report types and the validation of a whole report request."""

from dataclasses import dataclass
from typing import Any

from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.domain.table import (
    TABLE_PARAMETERS_SCHEMA,
    TableLimits,
    validate_table_parameters,
)
from relatoria_shared.domain.validation import (
    RejectionCode,
    RequestRejected,
    Violation,
    text_problem,
)


@dataclass(frozen=True)
class ReportTypeInfo:
    """What the catalog tells clients about one report type."""

    name: str
    title: str
    description: str
    formats: tuple[ReportFormat, ...]
    parameters_schema: dict[str, Any]


TABLE = ReportTypeInfo(
    name="table",
    title="Inline table",
    description="A table whose columns and rows travel inline in the request.",
    formats=tuple(ReportFormat),
    parameters_schema=TABLE_PARAMETERS_SCHEMA,
)

CATALOG: dict[str, ReportTypeInfo] = {TABLE.name: TABLE}


@dataclass(frozen=True)
class ValidatedRequest:
    """A report request that passed every check, parameters normalised for storage."""

    report_type: str
    format: ReportFormat
    title: str
    parameters: dict[str, Any]


def validate_request(
    report_type: str, fmt: str, title: str, parameters: Any, limits: TableLimits
) -> ValidatedRequest:
    """Validate a request's type, format and parameters; raise `RequestRejected` if wrong."""
    info = CATALOG.get(report_type)
    if info is None:
        known = ", ".join(sorted(CATALOG))
        raise RequestRejected(
            [
                Violation(
                    RejectionCode.UNKNOWN_REPORT_TYPE,
                    "type",
                    f"unknown report type {report_type!r}; known: {known}",
                )
            ]
        )
    if fmt not in {f.value for f in info.formats}:
        allowed = ", ".join(f.value for f in info.formats)
        raise RequestRejected(
            [
                Violation(
                    RejectionCode.UNSUPPORTED_FORMAT,
                    "format",
                    f"format {fmt!r} is not one of: {allowed}",
                )
            ]
        )
    problem = text_problem(title)
    if problem:
        raise RequestRejected([Violation(RejectionCode.INVALID_TEXT, "title", problem)])
    normalised = validate_table_parameters(parameters, limits)
    return ValidatedRequest(
        report_type=info.name, format=ReportFormat(fmt), title=title, parameters=normalised
    )
