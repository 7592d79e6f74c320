"""The catalog of report types and the validation of a whole report request."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.table_validation import (
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
from relatoria_shared.report_types import pending_payments, spend_by_department, transactions
from relatoria_shared.report_types.base import DataSourceReport


@dataclass(frozen=True)
class ReportTypeInfo:
    """What the catalog tells clients about one report type, and where its rows come from:
    inline in the request, or from a query of the reporting database."""

    name: str
    title: str
    description: str
    formats: tuple[ReportFormat, ...]
    parameters_schema: dict[str, Any]
    lane: Lane
    data_source: DataSourceReport | None = None


TABLE = ReportTypeInfo(
    name="table",
    title="Inline table",
    description="A table whose columns and rows travel inline in the request.",
    formats=tuple(ReportFormat),
    parameters_schema=TABLE_PARAMETERS_SCHEMA,
    lane=Lane.INTERACTIVE,
)


def _from_data_source(report: DataSourceReport) -> ReportTypeInfo:
    return ReportTypeInfo(
        name=report.name,
        title=report.title,
        description=report.description,
        formats=report.formats,
        parameters_schema=report.parameters_schema,
        lane=report.lane,
        data_source=report,
    )


CATALOG: dict[str, ReportTypeInfo] = {
    info.name: info
    for info in (
        TABLE,
        *(
            _from_data_source(module.REPORT)
            for module in (spend_by_department, pending_payments, transactions)
        ),
    )
}


def lane_for(report_type: str) -> Lane:
    """The lane of a recorded request's type (a type no longer in the catalog: interactive,
    where a worker picks it up at once and fails it with a clear error)."""
    info = CATALOG.get(report_type)
    return info.lane if info else Lane.INTERACTIVE


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
    report_format = ReportFormat(fmt)
    if report_format is ReportFormat.PDF and info.data_source is None:
        _check_pdf_rows(parameters, limits)
    if info.data_source is not None:
        normalised = info.data_source.validate(parameters, report_format)
    else:
        normalised = validate_table_parameters(parameters, limits)
    return ValidatedRequest(
        report_type=info.name, format=report_format, title=title, parameters=normalised
    )


def _check_pdf_rows(parameters: Any, limits: TableLimits) -> None:
    """An inline PDF beyond the PDF row cap is refused now rather than failed later."""
    rows = parameters.get("rows") if isinstance(parameters, Mapping) else None
    cap = limits.max_pdf_rows
    if cap is not None and isinstance(rows, list) and len(rows) > cap:
        raise RequestRejected(
            [
                Violation(
                    RejectionCode.TOO_MANY_ROWS,
                    "parameters.rows",
                    f"{len(rows)} rows given; a PDF holds at most {cap}. "
                    "Request it as CSV or XLSX.",
                )
            ]
        )
