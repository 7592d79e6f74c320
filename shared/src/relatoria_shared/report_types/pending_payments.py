"""`pending_payments`: payments not yet made, most overdue first."""

from typing import Any

from relatoria_shared.domain.table import Column, ColumnType
from relatoria_shared.report_types.base import DataSourceReport, check_department
from relatoria_shared.report_types.parameters import ReportParameters, department_field


class PendingPaymentsParameters(ReportParameters):
    """Optionally, one department."""

    department: str | None = department_field(required=False)


def _arguments(p: PendingPaymentsParameters) -> tuple[Any, ...]:
    return (p.department,)


REPORT = DataSourceReport(
    name="pending_payments",
    title="Pending payments",
    description="Payments still pending or overdue, optionally of one department, by due date.",
    parameters=PendingPaymentsParameters,
    columns=(
        Column("reference", "Reference", ColumnType.STRING),
        Column("department", "Department", ColumnType.STRING),
        Column("employee", "Requested by", ColumnType.STRING),
        Column("payee", "Payee", ColumnType.STRING),
        Column("amount", "Amount", ColumnType.NUMBER),
        Column("currency", "Currency", ColumnType.STRING),
        Column("dueOn", "Due", ColumnType.DATE),
        Column("status", "Status", ColumnType.STRING),
        Column("daysOverdue", "Days overdue", ColumnType.INTEGER),
    ),
    sql="""
        SELECT p.reference, d.name, e.full_name, p.payee, p.amount, p.currency, p.due_on,
               p.status, GREATEST(0, CURRENT_DATE - p.due_on) AS days_overdue
        FROM demo.payments p
        JOIN demo.departments d ON d.id = p.department_id
        JOIN demo.employees e ON e.id = p.employee_id
        WHERE p.status IN ('pending', 'overdue')
          AND ($1::text IS NULL OR d.code = $1::text)
        ORDER BY p.due_on, p.id
    """,
    arguments=_arguments,
    checks=(check_department,),
)
