"""The shape of the demo reporting dataset that `make demo-data` creates.

The data-source report types query it and validate their parameters against it (a
department code outside this list is refused before anything is recorded); the seeder
creates exactly these departments, in schema `demo`, over this period.
"""

from datetime import date

SCHEMA = "demo"
"""The PostgreSQL schema holding the demo tables."""

DEPARTMENTS: dict[str, str] = {
    "FIN": "Finance",
    "ENG": "Engineering",
    "SAL": "Sales",
    "MKT": "Marketing",
    "OPS": "Operations",
    "HR": "People",
    "LEG": "Legal",
    "SUP": "Customer Support",
    "PRD": "Product",
    "LOG": "Logistics",
    "PRO": "Procurement",
    "ITS": "IT Services",
}
"""Department code -> name; the codes are what report parameters name."""

PERIOD_START = date(2025, 7, 1)
"""The first day a demo transaction can fall on."""

PERIOD_END = date(2026, 6, 30)
"""The last day a demo transaction can fall on."""
