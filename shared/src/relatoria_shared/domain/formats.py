"""Output formats a report can be rendered to."""

from enum import StrEnum


class ReportFormat(StrEnum):
    """A file format the workers can render."""

    XLSX = "xlsx"
    PDF = "pdf"
    CSV = "csv"

    @property
    def content_type(self) -> str:
        """The MIME type served with the artifact."""
        return _CONTENT_TYPES[self]

    @property
    def extension(self) -> str:
        """The file name extension, without the dot."""
        return self.value


_CONTENT_TYPES = {
    ReportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ReportFormat.PDF: "application/pdf",
    ReportFormat.CSV: "text/csv; charset=utf-8",
}
