"""Download names and headers."""

import pytest

from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.storage.object_store import content_disposition, download_file_name

pytestmark = pytest.mark.unit


def test_download_name_keeps_unicode_and_drops_path_characters() -> None:
    assert download_file_name("Vendas de março", ReportFormat.XLSX) == "Vendas de março.xlsx"
    assert download_file_name('../../etc/passwd "x"', ReportFormat.CSV) == "etc passwd x.csv"
    assert download_file_name("///", ReportFormat.PDF) == "report.pdf"


def test_content_disposition_has_ascii_fallback_and_utf8_name() -> None:
    header = content_disposition("Relatório Ω.pdf")
    assert header.isascii()
    assert 'filename="Relatorio .pdf"' in header
    assert "filename*=UTF-8''Relat%C3%B3rio%20%CE%A9.pdf" in header
