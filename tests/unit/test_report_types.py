"""The data-source report types: what a request may ask for, refused before it is recorded."""

from datetime import date
from typing import Any

import pytest

from relatoria_shared.catalog import CATALOG, lane_for, validate_request
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.table_validation import TableLimits
from relatoria_shared.domain.validation import RejectionCode, RequestRejected
from relatoria_shared.report_types import transactions

pytestmark = pytest.mark.unit

QUARTER = {"startDate": "2025-07-01", "endDate": "2025-09-30"}


def rejection(report_type: str, fmt: str, parameters: Any) -> RequestRejected:
    with pytest.raises(RequestRejected) as caught:
        validate_request(report_type, fmt, "A report", parameters, TableLimits())
    return caught.value


def test_the_catalog_offers_the_three_data_source_types_in_the_bulk_lane() -> None:
    for name in ("spend_by_department", "pending_payments", "transactions"):
        info = CATALOG[name]
        assert info.lane is Lane.BULK
        assert info.parameters_schema["type"] == "object"
        assert info.parameters_schema["additionalProperties"] is False
    assert lane_for("table") is Lane.INTERACTIVE
    assert lane_for("a type that no longer exists") is Lane.INTERACTIVE


def test_a_valid_request_is_normalised_for_storage() -> None:
    valid = validate_request(
        "transactions", "csv", "Q3", QUARTER | {"department": "FIN"}, TableLimits()
    )
    assert valid.parameters == QUARTER | {"department": "FIN"}
    spend = validate_request(
        "spend_by_department", "xlsx", "Q3", QUARTER | {"department": "ENG"}, TableLimits()
    )
    assert spend.parameters["department"] == "ENG"
    pending = validate_request("pending_payments", "pdf", "Open", {}, TableLimits())
    assert pending.parameters == {"department": None}


def test_the_schema_lists_the_departments_a_request_may_name() -> None:
    schema = CATALOG["spend_by_department"].parameters_schema
    assert "FIN" in schema["properties"]["department"]["enum"]
    assert set(schema["required"]) == {"startDate", "endDate", "department"}


@pytest.mark.parametrize(
    ("report_type", "fmt", "parameters", "code", "path"),
    [
        (
            "transactions",
            "pdf",
            {"startDate": "2025-07-01", "endDate": "2025-08-15"},
            RejectionCode.DATE_RANGE_TOO_WIDE,
            "parameters.endDate",
        ),
        (
            "transactions",
            "csv",
            {"startDate": "2025-01-01", "endDate": "2026-06-30"},
            RejectionCode.DATE_RANGE_TOO_WIDE,
            "parameters.endDate",
        ),
        (
            "transactions",
            "xlsx",
            {"startDate": "2025-09-30", "endDate": "2025-07-01"},
            RejectionCode.INVALID_DATE_RANGE,
            "parameters.endDate",
        ),
        (
            "transactions",
            "csv",
            QUARTER | {"department": "NOPE"},
            RejectionCode.UNKNOWN_DEPARTMENT,
            "parameters.department",
        ),
        (
            "spend_by_department",
            "csv",
            QUARTER,
            RejectionCode.VALIDATION_ERROR,
            "parameters.department",
        ),
        (
            "transactions",
            "csv",
            {"startDate": 1751328000, "endDate": "2025-09-30"},
            RejectionCode.INVALID_PARAMETER,
            "parameters.startDate",
        ),
        (
            "transactions",
            "csv",
            {"startDate": "2025-02-30", "endDate": "2025-03-30"},
            RejectionCode.INVALID_PARAMETER,
            "parameters.startDate",
        ),
        (
            "transactions",
            "csv",
            {"startDate": "1850-01-01", "endDate": "1850-01-02"},
            RejectionCode.PARAMETER_OUT_OF_RANGE,
            "parameters.startDate",
        ),
        (
            "pending_payments",
            "csv",
            {"department": "FIN", "limit": 10},
            RejectionCode.VALIDATION_ERROR,
            "parameters.limit",
        ),
        (
            "pending_payments",
            "csv",
            ["FIN"],
            RejectionCode.VALIDATION_ERROR,
            "parameters",
        ),
    ],
)
def test_bad_parameters_are_refused_with_a_stable_code_and_the_field(
    report_type: str, fmt: str, parameters: Any, code: RejectionCode, path: str
) -> None:
    refused = rejection(report_type, fmt, parameters)
    assert (refused.first.code, refused.first.path) == (code, path)


def test_a_pdf_date_range_refusal_suggests_another_format() -> None:
    refused = rejection("transactions", "pdf", {"startDate": "2025-07-01", "endDate": "2025-12-31"})
    assert "CSV and XLSX" in refused.first.message


def test_parameters_are_bound_to_the_query_never_written_into_it() -> None:
    hostile = {"startDate": "2025-07-01", "endDate": "2025-07-31", "department": "FIN"}
    stored = transactions.REPORT.validate(hostile, CATALOG["transactions"].formats[0])
    query = transactions.REPORT.query(stored)
    assert "FIN" not in query.sql
    assert "2025" not in query.sql
    assert query.arguments == (date(2025, 7, 1), date(2025, 7, 31), "FIN")
    assert len(transactions.REPORT.columns) == 10


def test_an_inline_pdf_beyond_the_pdf_row_cap_is_refused_before_it_is_recorded() -> None:
    limits = TableLimits(max_rows=1000, max_pdf_rows=10)
    parameters = {"columns": [{"key": "n", "type": "integer"}], "rows": [[i] for i in range(11)]}
    with pytest.raises(RequestRejected) as caught:
        validate_request("table", "pdf", "Big", parameters, limits)
    assert caught.value.first.code is RejectionCode.TOO_MANY_ROWS
    assert "CSV or XLSX" in caught.value.first.message
    assert validate_request("table", "csv", "Big", parameters, limits).parameters["rows"]
