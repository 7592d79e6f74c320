"""What a caller's request can be refused for, free of HTTP (the BFF maps each to a status).

Each carries a stable `code` a frontend can switch on.
"""

from typing import Any


class RequestRefused(Exception):  # noqa: N818 - reads as the event it is
    """A caller's request that cannot be served as asked."""

    code = "REQUEST_REFUSED"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class ReportNotFound(RequestRefused):
    """No such report, or not the caller's (the same answer: existence is not leaked)."""

    code = "NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("no such report")


class IdempotencyKeyReused(RequestRefused):
    """The key was used before with another body."""

    code = "IDEMPOTENCY_KEY_REUSED"


class NotCancellable(RequestRefused):
    """The report is past cancelling."""

    code = "REPORT_NOT_CANCELLABLE"


class ReportNotReady(RequestRefused):
    """The report has no file (yet)."""

    code = "REPORT_NOT_READY"


class ReportExpired(RequestRefused):
    """The report's file was deleted at the end of its retention."""

    code = "REPORT_EXPIRED"


class InvalidCursor(RequestRefused):
    """A listing cursor that is not one of ours."""

    code = "INVALID_CURSOR"


class OwnerLimitReached(RequestRefused):
    """The owner is over one of its limits; `retry_after_seconds` says when to try again."""

    def __init__(self, message: str, retry_after_seconds: float, **extra: Any) -> None:
        super().__init__(message, **extra)
        self.retry_after_seconds = retry_after_seconds


class TooManyInFlight(OwnerLimitReached):
    """The owner has as many reports queued or processing as it may."""

    code = "TOO_MANY_REPORTS_IN_FLIGHT"


class PostRateExceeded(OwnerLimitReached):
    """The owner posts faster than it may."""

    code = "POST_RATE_EXCEEDED"


class WebhookUrlForbidden(RequestRefused):
    """A webhook or callback URL the service will not call (not https, a private address:
    see `domain.webhook_urls`)."""

    code = "WEBHOOK_URL_FORBIDDEN"


class SigningSecretMissing(RequestRefused):
    """A `callbackUrl` from an owner who has no signing secret to sign its deliveries."""

    code = "WEBHOOK_SECRET_MISSING"


class TooManyWebhooks(RequestRefused):
    """The owner has as many webhook endpoints as it may."""

    code = "TOO_MANY_WEBHOOKS"


class WebhookNotFound(RequestRefused):
    """No such webhook endpoint, or not the caller's."""

    code = "NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("no such webhook endpoint")
