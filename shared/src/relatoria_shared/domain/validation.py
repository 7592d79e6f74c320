"""Rejections of a report request: stable codes plus the path of the offending field."""

from dataclasses import dataclass
from enum import StrEnum


class RejectionCode(StrEnum):
    """Why a request was refused before anything was recorded. Stable: clients switch on it."""

    VALIDATION_ERROR = "VALIDATION_ERROR"
    UNKNOWN_REPORT_TYPE = "UNKNOWN_REPORT_TYPE"
    UNSUPPORTED_FORMAT = "UNSUPPORTED_FORMAT"
    MISSING_COLUMNS = "MISSING_COLUMNS"
    DUPLICATE_COLUMN = "DUPLICATE_COLUMN"
    INVALID_COLUMN = "INVALID_COLUMN"
    TOO_MANY_COLUMNS = "TOO_MANY_COLUMNS"
    INVALID_ROW = "INVALID_ROW"
    ROW_WIDTH_MISMATCH = "ROW_WIDTH_MISMATCH"
    UNKNOWN_ROW_KEY = "UNKNOWN_ROW_KEY"
    INVALID_CELL_TYPE = "INVALID_CELL_TYPE"
    CELL_TOO_LONG = "CELL_TOO_LONG"
    INVALID_TEXT = "INVALID_TEXT"
    TOO_MANY_ROWS = "TOO_MANY_ROWS"
    INVALID_PARAMETER = "INVALID_PARAMETER"
    PARAMETER_OUT_OF_RANGE = "PARAMETER_OUT_OF_RANGE"
    INVALID_DATE_RANGE = "INVALID_DATE_RANGE"
    DATE_RANGE_TOO_WIDE = "DATE_RANGE_TOO_WIDE"
    UNKNOWN_DEPARTMENT = "UNKNOWN_DEPARTMENT"


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored (PostgreSQL refuses NUL and unpaired surrogates), or None."""
    if "\x00" in text:
        return "text must not contain NUL characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "text must not contain unpaired surrogates"
    return None


@dataclass(frozen=True)
class Violation:
    """One thing wrong with a request, located by a dotted/indexed path such as
    `parameters.rows[3].amount`."""

    code: RejectionCode
    path: str
    message: str


class RequestRejected(Exception):  # noqa: N818 - a verdict, not a fault
    """A request that must not be recorded. Carries every violation found (up to a cap)."""

    def __init__(self, violations: list[Violation]) -> None:
        if not violations:
            raise ValueError("a rejection needs at least one violation")
        super().__init__(violations[0].message)
        self.violations = violations

    @property
    def first(self) -> Violation:
        """The violation reported as the headline of the error response."""
        return self.violations[0]
