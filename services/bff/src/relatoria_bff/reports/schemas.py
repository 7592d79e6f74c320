"""Request and response bodies of the report routes."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ReportCreate(BaseModel):
    """`POST /v1/reports`: what to render, as what, and from which parameters."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=100, examples=["table"])
    format: str = Field(min_length=1, max_length=20, examples=["xlsx"])
    title: str = Field(min_length=1, max_length=200, examples=["Quarterly spend"])
    parameters: dict[str, Any] = Field(
        default_factory=dict,
        examples=[
            {
                "columns": [
                    {"key": "name", "label": "Name", "type": "string"},
                    {"key": "amount", "label": "Amount", "type": "number"},
                ],
                "rows": [["Ana", 12.5], {"name": "Bruno", "amount": 7}],
            }
        ],
    )


class ReportAccepted(BaseModel):
    """The answer to an accepted request: where to watch it."""

    requestId: str  # noqa: N815 - the HTTP contract is camelCase
    status: str
    createdAt: str  # noqa: N815


class ReportPage(BaseModel):
    """One page of the caller's reports, newest first."""

    items: list[dict[str, Any]]
    nextCursor: str | None  # noqa: N815


class ReportTypeRead(BaseModel):
    """One entry of the report-type catalog."""

    name: str
    title: str
    description: str
    formats: list[str]
    parametersSchema: dict[str, Any]  # noqa: N815


class ReportTypeList(BaseModel):
    """The catalog."""

    items: list[ReportTypeRead]
