"""The renderer registry: one configured renderer per format."""

import io
from datetime import UTC, datetime

import pytest

from relatoria_shared.domain.errors import TooLargeError
from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.domain.table import Column, ColumnType, TableData
from relatoria_worker.renderers.csv import CsvRenderer
from relatoria_worker.renderers.pdf import PdfRenderer
from relatoria_worker.renderers.registry import Renderers
from relatoria_worker.renderers.xlsx import XlsxRenderer

COLUMNS = [Column("n", "N", ColumnType.INTEGER)]


def _table(count: int) -> TableData:
    return TableData("T", COLUMNS, [[n] for n in range(count)], datetime(2025, 1, 1, tzinfo=UTC))


@pytest.mark.unit
@pytest.mark.parametrize(
    ("fmt", "kind"),
    [
        (ReportFormat.CSV, CsvRenderer),
        (ReportFormat.XLSX, XlsxRenderer),
        (ReportFormat.PDF, PdfRenderer),
    ],
)
def test_every_format_has_its_renderer(fmt: ReportFormat, kind: type) -> None:
    renderers = Renderers()

    assert isinstance(renderers.renderer_for(fmt), kind)
    assert renderers.renderer_for(fmt) is renderers.renderer_for(fmt)


@pytest.mark.unit
def test_pdf_row_cap_comes_from_the_options() -> None:
    renderer_for = Renderers(pdf_max_rows=3).renderer_for

    assert renderer_for(ReportFormat.PDF).render(_table(3), io.BytesIO()).row_count == 3
    with pytest.raises(TooLargeError):
        renderer_for(ReportFormat.PDF).render(_table(4), io.BytesIO())
    # The cap is the PDF's alone.
    assert renderer_for(ReportFormat.CSV).render(_table(4), io.BytesIO()).row_count == 4
    assert renderer_for(ReportFormat.XLSX).render(_table(4), io.BytesIO()).row_count == 4


@pytest.mark.unit
def test_no_pdf_row_cap_by_default() -> None:
    stats = Renderers().renderer_for(ReportFormat.PDF).render(_table(2000), io.BytesIO())

    assert stats.row_count == 2000
