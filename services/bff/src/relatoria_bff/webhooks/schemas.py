"""Request and response bodies of the webhook routes."""

from pydantic import BaseModel, ConfigDict, Field, field_validator

from relatoria_shared.domain.validation import text_problem
from relatoria_shared.domain.webhooks import WebhookEvent


class WebhookCreate(BaseModel):
    """`POST /v1/webhooks`: where to announce which of your reports' ends."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1,
        max_length=2048,
        description="An https URL with a public address.",
        examples=["https://example.com/hooks/relatoria"],
    )
    events: list[WebhookEvent] = Field(
        default_factory=list,
        max_length=len(WebhookEvent),
        description="The events to send (all four when empty).",
    )
    description: str | None = Field(default=None, max_length=500)

    @field_validator("description")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        if value is not None and (problem := text_problem(value)) is not None:
            raise ValueError(problem)
        return value


class WebhookRead(BaseModel):
    """A registered endpoint (its secret is shown only when it is created)."""

    id: str
    url: str
    events: list[WebhookEvent]
    description: str | None
    createdAt: str  # noqa: N815 - the HTTP contract is camelCase


class WebhookCreated(WebhookRead):
    """A new endpoint, with its signing secret: shown this once."""

    secret: str = Field(description="Standard Webhooks signing secret (`whsec_…`).")


class WebhookList(BaseModel):
    """Your endpoints, oldest first."""

    items: list[WebhookRead]


class SigningSecret(BaseModel):
    """Your signing secret for `callbackUrl` deliveries: shown this once."""

    secret: str = Field(description="Standard Webhooks signing secret (`whsec_…`).")
    createdAt: str  # noqa: N815


class AttemptRead(BaseModel):
    """One try of a delivery."""

    attempt: int
    startedAt: str  # noqa: N815
    durationMs: int  # noqa: N815
    statusCode: int | None = Field(description="The receiver's answer; null: none came.")  # noqa: N815
    error: str | None


class DeliveryRead(BaseModel):
    """One event sent to one URL, with its attempts."""

    webhookId: str = Field(description="The `webhook-id` header: the same on every retry.")  # noqa: N815
    event: WebhookEvent
    url: str
    endpointId: str | None = Field(description="null: the request's callbackUrl.")  # noqa: N815
    status: str = Field(description="pending | delivered | dead | dropped")
    createdAt: str  # noqa: N815
    nextAttemptAt: str | None  # noqa: N815
    finishedAt: str | None  # noqa: N815
    lastError: str | None  # noqa: N815
    attempts: list[AttemptRead]


class DeliveryList(BaseModel):
    """A report's webhook deliveries, oldest first."""

    items: list[DeliveryRead]
