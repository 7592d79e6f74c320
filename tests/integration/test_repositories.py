"""The repositories against the real PostgreSQL: fair claims, fencing, taking back the jobs
of dead workers, idempotency, per-owner limits, listing."""

import asyncio
import itertools
import uuid
from datetime import timedelta

import asyncpg
import pytest

from relatoria_shared.db.jobs import PgJobRepository
from relatoria_shared.db.maintenance import PgMaintenanceRepository
from relatoria_shared.db.requests import OverLimit, PgRequestRepository, Recorded
from relatoria_shared.db.worker_presence import worker_presence
from relatoria_shared.domain.errors import ErrorCode
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.report import Artifact
from relatoria_shared.domain.status import ReportStatus
from relatoria_shared.settings import Settings
from tests.support.requests import GENEROUS, new_report, owner_limits, record

pytestmark = pytest.mark.integration
LEASE = timedelta(seconds=30)
RETENTION = timedelta(days=1)


@pytest.fixture
async def empty(pool: asyncpg.Pool) -> asyncpg.Pool:
    """The module's database with no requests (claims take whatever is due)."""
    await pool.execute("TRUNCATE report_requests, report_owners")
    return pool


@pytest.fixture
def requests(empty: asyncpg.Pool) -> PgRequestRepository:
    return PgRequestRepository(empty)


@pytest.fixture
def jobs(empty: asyncpg.Pool) -> PgJobRepository:
    return PgJobRepository(empty)


@pytest.fixture
def maintenance(empty: asyncpg.Pool) -> PgMaintenanceRepository:
    return PgMaintenanceRepository(empty)


def artifact(report_id: uuid.UUID) -> Artifact:
    return Artifact(f"reports/{report_id}.csv", "text/csv", "t.csv", 10, "0" * 64, 1, None)


def never(attempts: int, max_attempts: int) -> bool:
    return attempts >= max_attempts


async def test_concurrent_claims_have_exactly_one_winner(
    requests: PgRequestRepository, jobs: PgJobRepository
) -> None:
    await record(requests, new_report())
    claims = await asyncio.gather(
        *(jobs.claim_next(Lane.INTERACTIVE, f"worker-{i}", LEASE) for i in range(8))
    )
    winners = [c for c in claims if c is not None]
    assert len(winners) == 1
    assert winners[0].record.status is ReportStatus.PROCESSING
    assert winners[0].record.attempts == 1
    assert winners[0].parameters["rows"] == [["x"]]


async def test_claims_take_only_their_lane_and_due_work(
    requests: PgRequestRepository, jobs: PgJobRepository
) -> None:
    await record(requests, new_report(report_type="transactions", lane=Lane.BULK, parameters={}))
    assert await jobs.claim_next(Lane.INTERACTIVE, "w", LEASE) is None
    bulk = await jobs.claim_next(Lane.BULK, "w", LEASE)
    assert bulk is not None
    retrying = await jobs.retry(bulk.record, ErrorCode.DATA_SOURCE_ERROR, "down", LEASE)
    assert retrying is not None
    assert await jobs.claim_next(Lane.BULK, "w", LEASE) is None  # not due for 30 s


async def test_finished_requests_are_not_claimable(
    requests: PgRequestRepository, jobs: PgJobRepository
) -> None:
    await record(requests, new_report())
    job = await jobs.claim_next(Lane.INTERACTIVE, "w1", LEASE)
    assert job is not None
    done = await jobs.complete(job.record, artifact(job.record.id), RETENTION)
    assert done is not None
    assert done.status is ReportStatus.DONE
    assert await jobs.claim_next(Lane.INTERACTIVE, "w2", LEASE) is None


async def test_a_dead_workers_job_is_taken_back_at_once_and_its_old_claim_fenced_out(
    requests: PgRequestRepository, jobs: PgJobRepository, maintenance: PgMaintenanceRepository
) -> None:
    await record(requests, new_report())
    # "w1" holds no liveness lock: as if its process had died, lease still running.
    first = await jobs.claim_next(Lane.INTERACTIVE, "w1", LEASE)
    assert first is not None
    requeued, failed = await maintenance.take_back_abandoned(10, "lost", never, LEASE)
    assert [r.id for r in requeued] == [first.record.id]
    assert failed == []
    assert requeued[0].next_attempt_at is None  # due again at once: no backoff
    second = await jobs.claim_next(Lane.INTERACTIVE, "w2", LEASE)
    assert second is not None
    assert second.record.attempts == 2
    assert await jobs.complete(first.record, artifact(first.record.id), RETENTION) is None
    assert await jobs.fail(first.record, ErrorCode.RENDER_ERROR, "late") is None
    assert not await jobs.heartbeat(first.record, LEASE)
    done = await jobs.complete(second.record, artifact(second.record.id), RETENTION)
    assert done is not None
    assert done.worker_id == "w2"


async def test_a_live_workers_job_is_left_alone_until_its_lease_expires(
    own_settings: Settings,
    requests: PgRequestRepository,
    jobs: PgJobRepository,
    maintenance: PgMaintenanceRepository,
) -> None:
    alive = own_settings.model_copy(update={"worker_id": f"alive-{uuid.uuid4().hex[:6]}"})
    async with worker_presence(alive, lambda _: None) as presence:
        await presence.held.wait()
        await record(requests, new_report())
        job = await jobs.claim_next(Lane.INTERACTIVE, alive.worker_id, LEASE)
        assert job is not None
        assert await maintenance.take_back_abandoned(10, "lost", never, LEASE) == ([], [])
        # Silent (a partition): its lease runs out although its lock is still held.
        assert await jobs.heartbeat(job.record, timedelta(seconds=-1))
        requeued, _ = await maintenance.take_back_abandoned(10, "lost", never, LEASE)
        assert [r.id for r in requeued] == [job.record.id]


async def test_a_job_out_of_attempts_is_given_up_when_its_worker_dies(
    requests: PgRequestRepository, jobs: PgJobRepository, maintenance: PgMaintenanceRepository
) -> None:
    await record(requests, new_report(max_attempts=1))
    job = await jobs.claim_next(Lane.INTERACTIVE, "dead", LEASE)
    assert job is not None
    requeued, failed = await maintenance.take_back_abandoned(10, "lost", never, LEASE)
    assert requeued == []
    assert [(r.status, r.error_code) for r in failed] == [
        (ReportStatus.ERROR, ErrorCode.INTERNAL_ERROR)
    ]


async def test_versions_grow_with_every_transition(
    requests: PgRequestRepository, jobs: PgJobRepository
) -> None:
    recorded = await record(requests, new_report())
    job = await jobs.claim_next(Lane.INTERACTIVE, "w1", LEASE)
    assert job is not None
    failed = await jobs.fail(job.record, ErrorCode.RENDER_ERROR, "broken")
    assert failed is not None
    assert recorded.version < job.record.version < failed.version
    assert failed.error_code is ErrorCode.RENDER_ERROR


async def test_idempotency_key_is_scoped_per_owner(requests: PgRequestRepository) -> None:
    key = f"key-{uuid.uuid4()}"
    first = await requests.record(new_report("alice", key=key, digest="d1"), GENEROUS)
    again = await requests.record(new_report("alice", key=key, digest="d1"), GENEROUS)
    other = await requests.record(new_report("bob", key=key, digest="d1"), GENEROUS)
    assert isinstance(first, Recorded)
    assert isinstance(again, Recorded)
    assert isinstance(other, Recorded)
    assert first.created
    assert not again.created
    assert again.request_fingerprint == "d1"
    assert other.created
    assert again.record.id == first.record.id
    assert other.record.id != first.record.id


async def test_listing_is_newest_first_and_filterable(
    requests: PgRequestRepository, jobs: PgJobRepository
) -> None:
    owner = f"lister-{uuid.uuid4()}"
    ids = [(await record(requests, new_report(owner))).id for _ in range(3)]
    listed = await requests.list_for_owner(owner, limit=10, after=None, status=None)
    assert [r.id for r in listed] == ids[::-1]
    job = await jobs.claim_next(Lane.INTERACTIVE, "w", LEASE)
    assert job is not None
    processing = await requests.list_for_owner(
        owner, limit=10, after=None, status=ReportStatus.PROCESSING
    )
    assert [r.id for r in processing] == [job.record.id]


async def test_one_owners_burst_does_not_hold_back_anothers_request(
    requests: PgRequestRepository, jobs: PgJobRepository
) -> None:
    # A quantum longer than recording the whole burst takes: "single" is stamped before
    # the burst's second request.
    limits = owner_limits(interactive_quantum_seconds=30.0)
    for _ in range(200):
        await record(requests, new_report("burst"), limits)
    single = await record(requests, new_report("single"), limits)
    claimed = [await jobs.claim_next(Lane.INTERACTIVE, "w", LEASE) for _ in range(2)]
    assert [job.record.owner_id for job in claimed if job is not None] == ["burst", "single"]
    assert claimed[1] is not None
    assert claimed[1].record.id == single.id


async def test_each_request_moves_its_owners_clock_one_quantum_ahead(
    requests: PgRequestRepository, empty: asyncpg.Pool
) -> None:
    limits = owner_limits(interactive_quantum_seconds=0.25)
    for _ in range(3):
        await record(requests, new_report("clocked"), limits)
    times = await empty.fetch(
        "SELECT fair_at FROM report_requests WHERE owner_id = 'clocked' ORDER BY fair_at"
    )
    steps = [(b["fair_at"] - a["fair_at"]).total_seconds() for a, b in itertools.pairwise(times)]
    assert steps == [0.25, 0.25]


async def test_an_owner_over_its_in_flight_limit_is_refused_until_one_finishes(
    requests: PgRequestRepository, jobs: PgJobRepository
) -> None:
    limits = owner_limits(max_in_flight=2)
    for _ in range(2):
        await record(requests, new_report("capped"), limits)
    refused = await requests.record(new_report("capped"), limits)
    assert isinstance(refused, OverLimit)
    assert refused.in_flight == 2
    assert isinstance(await requests.record(new_report("someone-else"), limits), Recorded)
    job = await jobs.claim_next(Lane.INTERACTIVE, "w", LEASE)
    assert job is not None
    assert job.record.owner_id == "capped"
    # Processing still counts as in flight; done does not.
    assert isinstance(await requests.record(new_report("capped"), limits), OverLimit)
    await jobs.complete(job.record, artifact(job.record.id), RETENTION)
    assert isinstance(await requests.record(new_report("capped"), limits), Recorded)


async def test_an_owner_posting_too_fast_is_refused_then_let_through_again(
    requests: PgRequestRepository,
) -> None:
    limits = owner_limits(posts_per_second=20.0, post_burst=3)
    accepted = [await requests.record(new_report("fast"), limits) for _ in range(4)]
    assert [isinstance(a, Recorded) for a in accepted] == [True, True, True, False]
    refused = accepted[-1]
    assert isinstance(refused, OverLimit)
    assert refused.tokens < 1
    assert limits.seconds_until_token(refused.tokens) <= 0.05
    await asyncio.sleep(0.1)
    assert isinstance(await requests.record(new_report("fast"), limits), Recorded)
