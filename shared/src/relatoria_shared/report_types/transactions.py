"""`transactions`: every transaction in a date range, optionally of one department.

The big export: a year of transactions runs to millions of rows, streamed.
"""

from typing import Any

from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.domain.table import Column, ColumnType
from relatoria_shared.report_types.base import (
    DataSourceReport,
    check_department,
    date_range_check,
)
from relatoria_shared.report_types.parameters import DateRangeParameters, department_field

MAX_DAYS = {ReportFormat.CSV: 366, ReportFormat.XLSX: 366, ReportFormat.PDF: 31}
"""The widest date range per format: a PDF of a whole year would be unreadable."""


class TransactionsParameters(DateRangeParameters):
    """A date range, and optionally one department."""

    department: str | None = department_field(required=False)


def _arguments(p: TransactionsParameters) -> tuple[Any, ...]:
    return (p.start_date, p.end_date, p.department)


REPORT = DataSourceReport(
    name="transactions",
    title="Transactions",
    description="Every transaction in a date range (at most 366 days; 31 as PDF), "
    "optionally of one department, oldest first.",
    parameters=TransactionsParameters,
    columns=(
        Column("id", "Transaction", ColumnType.INTEGER),
        Column("occurredAt", "Date", ColumnType.DATETIME),
        Column("department", "Department", ColumnType.STRING),
        Column("employee", "Employee", ColumnType.STRING),
        Column("merchant", "Merchant", ColumnType.STRING),
        Column("category", "Category", ColumnType.STRING),
        Column("description", "Description", ColumnType.STRING),
        Column("amount", "Amount", ColumnType.NUMBER),
        Column("currency", "Currency", ColumnType.STRING),
        Column("paymentMethod", "Payment method", ColumnType.STRING),
    ),
    sql="""
        SELECT t.id, t.occurred_at, d.name, e.full_name, t.merchant, t.category,
               t.description, t.amount, t.currency, t.payment_method
        FROM demo.transactions t
        JOIN demo.departments d ON d.id = t.department_id
        JOIN demo.employees e ON e.id = t.employee_id
        WHERE t.occurred_at >= $1::date
          AND t.occurred_at < $2::date + 1
          AND ($3::text IS NULL OR d.code = $3::text)
        ORDER BY t.occurred_at, t.id
    """,
    arguments=_arguments,
    checks=(date_range_check(MAX_DAYS), check_department),
)
