"""The repository's transitions against the real PostgreSQL: claims, fencing, idempotency."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from relatoria_shared.db.engine import create_engine
from relatoria_shared.db.repository import ReportRepository
from relatoria_shared.domain.errors import ErrorCode
from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.domain.report import Artifact, NewReport
from relatoria_shared.domain.status import ReportStatus
from relatoria_shared.settings import Settings

pytestmark = pytest.mark.integration
LEASE = timedelta(seconds=30)


@pytest.fixture
async def repository(settings: Settings) -> AsyncIterator[ReportRepository]:
    engine = create_engine(settings)
    yield ReportRepository(engine)
    await engine.dispose()


def new_report(
    owner: str = "alice", key: str | None = None, digest: str | None = None
) -> NewReport:
    return NewReport(
        owner_id=owner,
        report_type="table",
        format=ReportFormat.CSV,
        title="t",
        parameters={"columns": [{"key": "a", "label": "a", "type": "string"}], "rows": [["x"]]},
        idempotency_key=key,
        request_fingerprint=digest,
    )


def artifact(report_id: uuid.UUID) -> Artifact:
    return Artifact(f"reports/{report_id}.csv", "text/csv", "t.csv", 10, "0" * 64, 1, None)


async def test_concurrent_claims_have_exactly_one_winner(repository: ReportRepository) -> None:
    record, _ = await repository.create(new_report())
    claims = await asyncio.gather(
        *(repository.claim(record.id, f"worker-{i}", LEASE) for i in range(8))
    )
    winners = [c for c in claims if c is not None]
    assert len(winners) == 1
    assert winners[0].status is ReportStatus.PROCESSING
    assert winners[0].attempts == 1


async def test_finished_requests_are_not_claimable(repository: ReportRepository) -> None:
    record, _ = await repository.create(new_report())
    claimed = await repository.claim(record.id, "w1", LEASE)
    assert claimed is not None
    done = await repository.complete(claimed, artifact(record.id))
    assert done is not None
    assert done.status is ReportStatus.DONE
    assert await repository.claim(record.id, "w2", LEASE) is None


async def test_expired_lease_is_reclaimed_and_the_old_holder_is_fenced_out(
    repository: ReportRepository,
) -> None:
    record, _ = await repository.create(new_report())
    first = await repository.claim(record.id, "w1", timedelta(seconds=-1))  # already expired
    assert first is not None
    second = await repository.claim(record.id, "w2", LEASE)
    assert second is not None
    assert second.attempts == 2
    assert await repository.complete(first, artifact(record.id)) is None
    assert await repository.fail(first, ErrorCode.RENDER_ERROR, "late") is None
    done = await repository.complete(second, artifact(record.id))
    assert done is not None
    assert done.worker_id == "w2"


async def test_live_lease_is_not_reclaimed(repository: ReportRepository) -> None:
    record, _ = await repository.create(new_report())
    assert await repository.claim(record.id, "w1", LEASE) is not None
    assert await repository.claim(record.id, "w2", LEASE) is None


async def test_versions_grow_with_every_transition(repository: ReportRepository) -> None:
    record, _ = await repository.create(new_report())
    claimed = await repository.claim(record.id, "w1", LEASE)
    assert claimed is not None
    failed = await repository.fail(claimed, ErrorCode.RENDER_ERROR, "broken")
    assert failed is not None
    assert record.version < claimed.version < failed.version
    assert failed.error_code is ErrorCode.RENDER_ERROR


async def test_idempotency_key_is_scoped_per_owner(repository: ReportRepository) -> None:
    key = f"key-{uuid.uuid4()}"
    first, created = await repository.create(new_report("alice", key, "d1"))
    again, created_again = await repository.create(new_report("alice", key, "d1"))
    other, created_other = await repository.create(new_report("bob", key, "d1"))
    assert created
    assert not created_again
    assert created_other
    assert again.id == first.id
    assert other.id != first.id


async def test_listing_is_newest_first_and_filterable(repository: ReportRepository) -> None:
    owner = f"lister-{uuid.uuid4()}"
    ids = [(await repository.create(new_report(owner)))[0].id for _ in range(3)]
    listed = await repository.list_for_owner(owner, limit=10)
    assert [r.id for r in listed] == ids[::-1]
    claimed = await repository.claim(ids[0], "w", LEASE)
    assert claimed is not None
    processing = await repository.list_for_owner(owner, limit=10, status=ReportStatus.PROCESSING)
    assert [r.id for r in processing] == [ids[0]]
