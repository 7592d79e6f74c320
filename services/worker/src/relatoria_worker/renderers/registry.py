"""Which renderer draws which format, built once from the worker's options."""

from relatoria_shared.domain.formats import ReportFormat
from relatoria_worker.renderers.base import Renderer
from relatoria_worker.renderers.csv import CsvRenderer
from relatoria_worker.renderers.pdf import PdfRenderer
from relatoria_worker.renderers.xlsx import XlsxRenderer


class Renderers:
    """One renderer per format, configured once; `renderer_for` hands them out.

    Renderers keep no state between renders (everything a render needs is local to
    it), so one instance of each serves every job, from any thread.
    """

    def __init__(self, *, pdf_max_rows: int | None = None) -> None:
        """`pdf_max_rows` caps the data rows of a PDF (None: no cap); a larger table
        fails with `TooLargeError` (code TOO_LARGE) without reading the rest."""
        self._by_format: dict[ReportFormat, Renderer] = {
            ReportFormat.XLSX: XlsxRenderer(),
            ReportFormat.PDF: PdfRenderer(max_rows=pdf_max_rows),
            ReportFormat.CSV: CsvRenderer(),
        }

    def renderer_for(self, fmt: ReportFormat) -> Renderer:
        """The renderer of `fmt`."""
        return self._by_format[fmt]
