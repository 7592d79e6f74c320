"""`spend_by_department`: one department's spending per month and category."""

from typing import Any

from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.domain.table import Column, ColumnType
from relatoria_shared.report_types.base import (
    DataSourceReport,
    check_department,
    date_range_check,
)
from relatoria_shared.report_types.parameters import DateRangeParameters, department_field

MAX_DAYS = dict.fromkeys(ReportFormat, 731)
"""Two years at most: the query scans every transaction of the range."""


class SpendParameters(DateRangeParameters):
    """A department and a date range."""

    department: str = department_field(required=True)


def _arguments(p: SpendParameters) -> tuple[Any, ...]:
    return (p.department, p.start_date, p.end_date)


REPORT = DataSourceReport(
    name="spend_by_department",
    title="Spend by department",
    description="A department's spending per month, category and currency in a date "
    "range (at most two years).",
    parameters=SpendParameters,
    columns=(
        Column("month", "Month", ColumnType.STRING),
        Column("category", "Category", ColumnType.STRING),
        Column("currency", "Currency", ColumnType.STRING),
        Column("transactions", "Transactions", ColumnType.INTEGER),
        Column("total", "Total", ColumnType.NUMBER),
        Column("average", "Average", ColumnType.NUMBER),
        Column("largest", "Largest", ColumnType.NUMBER),
    ),
    sql="""
        SELECT to_char(date_trunc('month', t.occurred_at), 'YYYY-MM') AS month,
               t.category, t.currency, count(*) AS transactions, sum(t.amount) AS total,
               round(avg(t.amount), 2) AS average, max(t.amount) AS largest
        FROM demo.transactions t
        JOIN demo.departments d ON d.id = t.department_id
        WHERE d.code = $1::text
          AND t.occurred_at >= $2::date
          AND t.occurred_at < $3::date + 1
        GROUP BY 1, 2, 3
        ORDER BY 1, 2, 3
    """,
    arguments=_arguments,
    checks=(date_range_check(MAX_DAYS), check_department),
)
