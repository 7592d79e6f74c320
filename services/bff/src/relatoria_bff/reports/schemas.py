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
    callbackUrl: str | None = Field(  # noqa: N815 - the HTTP contract is camelCase
        default=None,
        max_length=2048,
        description="An https URL called once the report ends (report.done, report.failed, "
        "report.cancelled, report.expired), signed per Standard Webhooks with your signing "
        "secret (`POST /v1/webhooks/secret`, which must exist first).",
        examples=["https://example.com/hooks/relatoria"],
    )


class ReportAccepted(BaseModel):
    """The answer to an accepted request: where to watch it."""

    requestId: str  # noqa: N815 - the HTTP contract is camelCase
    status: str
    createdAt: str  # noqa: N815


class ReportResult(BaseModel):
    """The file a finished report produced."""

    fileName: str  # noqa: N815
    contentType: str  # noqa: N815
    sizeBytes: int  # noqa: N815
    sha256: str
    rowCount: int  # noqa: N815
    pageCount: int | None  # noqa: N815


class ReportProgress(BaseModel):
    """How far a running report has got."""

    rowsWritten: int  # noqa: N815
    rowsExpected: int | None = Field(  # noqa: N815
        description="Rows in all, when known: exact for inline tables, the query planner's "
        "estimate for data-source reports."
    )
    rowsExpectedIsEstimate: bool  # noqa: N815
    estimatedFinishAt: str | None = Field(  # noqa: N815
        default=None,
        description="While processing with a known total: when it should finish at the "
        "rate it has written rows so far (an estimate).",
    )


class QueueView(BaseModel):
    """Where a queued report stands (estimates, computed when it is read)."""

    position: int = Field(
        description="1: next to run in its lane, under the fair claim. It can move either "
        "way: another owner's report may go ahead of a burst."
    )
    estimatedStartAt: str | None = Field(  # noqa: N815
        description="From the lane's throughput over the last minutes; null when nothing "
        "finished lately."
    )
    estimatedFinishAt: str | None = Field(  # noqa: N815
        description="The estimated start plus the lane's recent average time per report."
    )


class ReportStatusRead(BaseModel):
    """The status document of one report."""

    requestId: str  # noqa: N815
    type: str
    format: str
    title: str
    parameters: dict[str, Any] = Field(
        description="The request's parameters; inline rows are summarised as `rowCount`."
    )
    status: str = Field(
        description="queued | processing | done | error | cancelled | expired",
        examples=["done"],
    )
    errorCode: str | None = Field(  # noqa: N815
        description="Why it failed (a closed set), when status is error."
    )
    errorMessage: str | None  # noqa: N815
    attempts: int
    maxAttempts: int  # noqa: N815
    createdAt: str  # noqa: N815
    updatedAt: str  # noqa: N815
    startedAt: str | None  # noqa: N815
    finishedAt: str | None  # noqa: N815
    nextAttemptAt: str | None = Field(  # noqa: N815
        description="While waiting to be retried: when the next attempt is due."
    )
    firstFailedAt: str | None  # noqa: N815
    lastFailedAt: str | None  # noqa: N815
    expiresAt: str | None = Field(  # noqa: N815
        description="When a done report's file is deleted (it then becomes expired); "
        "when it was, once expired."
    )
    progress: ReportProgress | None = Field(
        default=None, description="While the report renders (updated every few seconds)."
    )
    result: ReportResult | None
    queue: QueueView | None = Field(
        default=None,
        description="While queued, on reads of the one report and its events (not in "
        "lists): its position and estimated start and finish.",
    )
    downloadUrl: str | None = Field(  # noqa: N815
        description="A presigned URL, made at read time, when status is done."
    )
    downloadUrlExpiresAt: str | None  # noqa: N815


class ReportPage(BaseModel):
    """One page of the caller's reports, newest first."""

    items: list[ReportStatusRead]
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
