"""Error codes a frontend can switch on, and the one exception tree of the project.

Every failure a worker can meet is translated, at the adapter boundary, into a
`ReportError` carrying an `ErrorCode`; whether it is worth retrying is a property of
the code, decided here and nowhere else.
"""

from enum import StrEnum


class ErrorCode(StrEnum):
    """Why a report failed. A closed set: frontends may switch on it."""

    INVALID_PARAMETERS = "INVALID_PARAMETERS"
    DATA_SOURCE_ERROR = "DATA_SOURCE_ERROR"
    RENDER_ERROR = "RENDER_ERROR"
    TOO_LARGE = "TOO_LARGE"
    STORAGE_ERROR = "STORAGE_ERROR"
    TIMEOUT = "TIMEOUT"
    CANCELLED = "CANCELLED"
    INTERNAL_ERROR = "INTERNAL_ERROR"

    @property
    def retryable(self) -> bool:
        """Whether another attempt could succeed where this one failed."""
        return self in _RETRYABLE


_RETRYABLE = frozenset(
    {ErrorCode.DATA_SOURCE_ERROR, ErrorCode.STORAGE_ERROR, ErrorCode.INTERNAL_ERROR}
)


class ReportError(Exception):
    """A failure of one report, with the code and a message a user can read."""

    code: ErrorCode = ErrorCode.INTERNAL_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def retryable(self) -> bool:
        """Whether another attempt could succeed."""
        return self.code.retryable


class InvalidParametersError(ReportError):
    """The stored parameters cannot produce a report."""

    code = ErrorCode.INVALID_PARAMETERS


class RenderError(ReportError):
    """The renderer could not produce the file."""

    code = ErrorCode.RENDER_ERROR


class TooLargeError(ReportError):
    """The report would be bigger than its format allows."""

    code = ErrorCode.TOO_LARGE


class DataSourceError(ReportError):
    """The reporting database failed or could not be reached."""

    code = ErrorCode.DATA_SOURCE_ERROR


class DataSourceTimeout(ReportError):  # noqa: N818 - reads as the event it is
    """The reporting query ran past its statement timeout."""

    code = ErrorCode.TIMEOUT


class StorageError(ReportError):
    """The object store refused or could not be reached."""

    code = ErrorCode.STORAGE_ERROR
