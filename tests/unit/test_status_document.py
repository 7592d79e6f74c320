"""The status document: what clients read, built from a request's state alone."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from relatoria_shared.domain.errors import ErrorCode
from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.report import Artifact, Progress, ReportRecord, summarise_parameters
from relatoria_shared.domain.status import ReportStatus
from relatoria_shared.domain.status_document import status_document

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
COLUMNS = [{"key": "a", "label": "A", "type": "string"}]


def record(**changes: object) -> ReportRecord:
    values: dict[str, object] = {
        "id": uuid.UUID(int=7),
        "owner_id": "ana",
        "report_type": "table",
        "lane": Lane.INTERACTIVE,
        "format": ReportFormat.XLSX,
        "title": "Vendas",
        "parameter_summary": summarise_parameters(
            "table", {"columns": COLUMNS, "rows": [["x"]] * 3}
        ),
        "status": ReportStatus.QUEUED,
        "attempts": 0,
        "max_attempts": 3,
        "version": 1,
        "created_at": NOW,
        "updated_at": NOW,
    }
    return ReportRecord(**(values | changes))  # type: ignore[arg-type]


def test_a_tables_rows_are_summarised_by_their_count() -> None:
    document = status_document(record())
    assert document.body["parameters"] == {"columns": COLUMNS, "rowCount": 3}
    assert summarise_parameters("transactions", {"year": 2026}) == {"year": 2026}


def test_the_body_is_the_client_view_and_the_rest_stays_beside_it() -> None:
    done = record(
        status=ReportStatus.DONE,
        version=4,
        artifact=Artifact("reports/x.xlsx", "application/x", "Vendas.xlsx", 9, "f" * 64, 3, None),
        progress=Progress(3, 3),
        expires_at=NOW + timedelta(days=7),
    )
    document = status_document(done)
    body = json.loads(document.body_json())
    assert "ownerId" not in body
    assert "objectKey" not in body
    assert (document.owner_id, document.object_key, document.version) == (
        "ana",
        "reports/x.xlsx",
        4,
    )
    assert body["result"]["fileName"] == "Vendas.xlsx"
    assert body["progress"] == {
        "rowsWritten": 3,
        "rowsExpected": 3,
        "rowsExpectedIsEstimate": False,
    }
    assert not document.past_expiry(NOW)
    assert document.past_expiry(NOW + timedelta(days=8))


def test_progress_shows_only_while_running_or_done() -> None:
    retrying = record(
        status=ReportStatus.QUEUED, progress=Progress(5, 10), error_code=ErrorCode.STORAGE_ERROR
    )
    assert status_document(retrying).body["progress"] is None
    running = record(
        status=ReportStatus.PROCESSING, report_type="transactions", progress=Progress(5, 10)
    )
    assert status_document(running).body["progress"] == {
        "rowsWritten": 5,
        "rowsExpected": 10,
        "rowsExpectedIsEstimate": True,
    }
