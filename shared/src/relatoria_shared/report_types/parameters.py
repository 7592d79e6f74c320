"""Parameter building blocks shared by the data-source report types."""

import re
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from relatoria_shared.report_types.demo_dataset import DEPARTMENTS

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date_only(value: Any) -> Any:
    # Lax pydantic would also take numbers (Unix time) and date-times; a report's date
    # parameter is a calendar date written YYYY-MM-DD and nothing else.
    if isinstance(value, str) and _ISO_DATE.match(value):
        return value
    raise ValueError("must be a date written YYYY-MM-DD")


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]
"""A calendar date given as YYYY-MM-DD."""


def department_field(*, required: bool) -> Any:
    """The `department` parameter: one of the reporting data's department codes."""
    codes: list[Any] = list(DEPARTMENTS)
    return Field(
        ... if required else None,
        description="Department code: " + ", ".join(f"{c} ({n})" for c, n in DEPARTMENTS.items()),
        json_schema_extra={"enum": codes if required else [*codes, None]},
    )


class ReportParameters(BaseModel):
    """Parameters travel camelCase (the HTTP contract); unknown ones are refused."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, frozen=True)


class DateRangeParameters(ReportParameters):
    """An inclusive range of calendar days."""

    start_date: IsoDate = Field(description="First day included (YYYY-MM-DD).")
    end_date: IsoDate = Field(description="Last day included (YYYY-MM-DD).")
