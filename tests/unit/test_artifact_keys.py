"""Each attempt's own key, and which stored files the cleanup keeps."""

import uuid

import pytest

from relatoria_shared.domain.artifact_keys import (
    FileHolder,
    StoredKey,
    attempt_key,
    parse_key,
    still_needed,
)
from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.domain.status import ReportStatus

pytestmark = pytest.mark.unit

RID = uuid.uuid4()


def test_every_attempt_writes_a_key_of_its_own() -> None:
    first = attempt_key("reports/", RID, 1, ReportFormat.PDF)
    again = attempt_key("reports/", RID, 1, ReportFormat.PDF)  # after a replay, say
    second = attempt_key("reports/", RID, 2, ReportFormat.PDF)
    assert len({first, again, second}) == 3
    assert first.startswith(f"reports/{RID}/1-")
    assert first.endswith(".pdf")
    assert parse_key("reports/", first) == StoredKey(RID, 1)
    assert parse_key("reports/", second) == StoredKey(RID, 2)


def test_keys_stored_before_attempts_had_their_own_are_still_understood() -> None:
    assert parse_key("reports/", f"reports/{RID}.csv") == StoredKey(RID, None)


@pytest.mark.parametrize(
    "key",
    [
        f"other/{RID}/1-ab.csv",  # another prefix
        "reports/notes.txt",  # not a request's
        f"reports/tenant/{RID}/1-ab.csv",  # a deeper prefix's (another deployment's)
        f"reports/{RID}/x-ab.csv",
        f"reports/{RID}/1.csv",
    ],
)
def test_keys_no_attempt_wrote_are_left_alone(key: str) -> None:
    assert parse_key("reports/", key) is None


def holder(status: ReportStatus, attempts: int, key: str | None = None) -> FileHolder:
    return FileHolder(status, attempts, key)


def test_only_the_recorded_file_and_the_running_attempts_upload_are_needed() -> None:
    recorded = attempt_key("reports/", RID, 2, ReportFormat.CSV)
    loser = attempt_key("reports/", RID, 1, ReportFormat.CSV)
    running = attempt_key("reports/", RID, 3, ReportFormat.CSV)

    def needed(key: str, found: FileHolder | None) -> bool:
        parsed = parse_key("reports/", key)
        assert parsed is not None
        return still_needed(key, parsed, found)

    assert needed(recorded, holder(ReportStatus.DONE, 2, recorded))
    assert not needed(loser, holder(ReportStatus.DONE, 2, recorded))
    assert needed(running, holder(ReportStatus.PROCESSING, 3))
    assert not needed(loser, holder(ReportStatus.PROCESSING, 3))
    for gone in (ReportStatus.CANCELLED, ReportStatus.EXPIRED, ReportStatus.ERROR):
        assert not needed(
            recorded, holder(gone, 2, recorded if gone is not ReportStatus.CANCELLED else None)
        )
    assert not needed(loser, holder(ReportStatus.QUEUED, 1))  # retried: a new attempt will run
    assert not needed(recorded, None)  # no such request in this deployment's database
