"""Which renderer draws which format, built once from the worker's options."""

import threading

from relatoria_shared.domain.formats import ReportFormat
from relatoria_worker.renderers.base import Renderer
from relatoria_worker.renderers.csv import CsvRenderer
from relatoria_worker.renderers.xlsx import XlsxRenderer


class Renderers:
    """One renderer per format, configured once; `renderer_for` hands them out.

    Renderers keep no state between renders (everything a render needs is local to
    it), so one instance of each serves every job, from any thread. The PDF renderer is
    imported and built when a job first needs it: reportlab and its fonts would cost a
    worker that renders no PDF about 6 MB of memory.
    """

    def __init__(self, *, pdf_max_rows: int | None = None) -> None:
        """`pdf_max_rows` caps the data rows of a PDF (None: no cap); a larger table
        fails with `TooLargeError` (code TOO_LARGE) without reading the rest."""
        self._pdf_max_rows = pdf_max_rows
        self._by_format: dict[ReportFormat, Renderer] = {
            ReportFormat.XLSX: XlsxRenderer(),
            ReportFormat.CSV: CsvRenderer(),
        }
        self._lock = threading.Lock()  # render threads may want the PDF renderer at once

    def renderer_for(self, fmt: ReportFormat) -> Renderer:
        """The renderer of `fmt`."""
        renderer = self._by_format.get(fmt)
        if renderer is None:
            with self._lock:
                renderer = self._by_format.get(fmt)
                if renderer is None:
                    from relatoria_worker.renderers.pdf import PdfRenderer  # noqa: PLC0415

                    renderer = self._by_format[fmt] = PdfRenderer(max_rows=self._pdf_max_rows)
        return renderer
