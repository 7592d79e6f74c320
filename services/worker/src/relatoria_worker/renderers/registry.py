"""Which renderer draws which format."""

from relatoria_shared.domain.formats import ReportFormat
from relatoria_worker.renderers.base import Renderer
from relatoria_worker.renderers.csv import CsvRenderer
from relatoria_worker.renderers.pdf import PdfRenderer
from relatoria_worker.renderers.xlsx import XlsxRenderer

_RENDERERS: dict[ReportFormat, Renderer] = {
    ReportFormat.XLSX: XlsxRenderer(),
    ReportFormat.PDF: PdfRenderer(),
    ReportFormat.CSV: CsvRenderer(),
}


def renderer_for(fmt: ReportFormat) -> Renderer:
    """The renderer of `fmt`."""
    return _RENDERERS[fmt]
