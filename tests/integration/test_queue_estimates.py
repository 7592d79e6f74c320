"""Queue estimates on the real PostgreSQL and Redis: a queued request's place in its lane
follows the fair claim and moves up as those ahead are claimed; finished jobs counted by
the transition service give the lane's recent throughput; a running report's finish is
estimated from its own rate."""

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from relatoria_bff.reports.queue_estimates import QueueEstimates, estimated_finish
from relatoria_shared.cache.status_cache import StatusCache, create_redis
from relatoria_shared.db.jobs import PgJobRepository
from relatoria_shared.db.requests import PgRequestRepository
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.report import Progress
from relatoria_shared.domain.status_document import status_document
from relatoria_shared.settings import Settings
from relatoria_shared.transitions.announce import FinishedJob
from tests.support.requests import new_report, owner_limits, processing_record, record

pytestmark = pytest.mark.integration


@pytest.fixture
async def requests(pool: asyncpg.Pool) -> PgRequestRepository:
    await pool.execute("TRUNCATE report_requests, report_owners")
    return PgRequestRepository(pool)


@pytest.fixture
async def cache(settings: Settings) -> AsyncIterator[StatusCache]:
    redis = create_redis(settings)
    yield StatusCache(redis, f"{settings.redis_prefix}eta-{uuid.uuid4().hex[:6]}:", 60, 5)
    await redis.aclose()


async def test_a_queued_requests_place_follows_the_fair_claim_and_moves_up(
    requests: PgRequestRepository, pool: asyncpg.Pool
) -> None:
    limits = owner_limits(interactive_quantum_seconds=30.0)
    burst = [await record(requests, new_report("burst"), limits) for _ in range(3)]
    single = await record(requests, new_report("single"), limits)
    elsewhere = await record(requests, new_report("bulk", lane=Lane.BULK), limits)

    places = [await requests.queue_place(r.id) for r in [*burst, single]]
    # The fair claim puts the other owner's one report right after the burst's first.
    assert [(p.lane, p.position) for p in places if p] == [
        ("interactive", 1),
        ("interactive", 3),
        ("interactive", 4),
        ("interactive", 2),
    ]
    bulk = await requests.queue_place(elsewhere.id)
    assert bulk is not None
    assert bulk.position == 1

    jobs = PgJobRepository(pool)
    claimed = await jobs.claim_next(Lane.INTERACTIVE, "w", timedelta(seconds=30))
    assert claimed is not None
    assert claimed.record.id == burst[0].id
    assert await requests.queue_place(burst[0].id) is None  # no longer queued
    last = await requests.queue_place(burst[2].id)
    assert last is not None
    assert last.position == 3


async def test_finished_jobs_give_the_lanes_throughput_and_the_estimates(
    requests: PgRequestRepository, cache: StatusCache
) -> None:
    assert (await cache.lane_rate("interactive")).per_second == 0
    done = processing_record()
    for version in range(3, 9):
        document = status_document(dataclasses.replace(done, version=version))
        assert await cache.announce(document, FinishedJob("interactive", 2.0))
    # A document already announced is not counted twice.
    assert not await cache.announce(document, FinishedJob("interactive", 2.0))
    rate = await cache.lane_rate("interactive")
    assert rate.seconds_per_job == pytest.approx(2.0)
    assert 6 / 360 <= rate.per_second <= 6 / 300

    queued = [await record(requests, new_report("eta")) for _ in range(3)]
    estimates = QueueEstimates(requests, cache)
    view = await estimates.queue(status_document(queued[2]))
    assert view is not None
    assert view["position"] == 3
    start = datetime.fromisoformat(view["estimatedStartAt"])
    finish = datetime.fromisoformat(view["estimatedFinishAt"])
    ahead = timedelta(seconds=2 / rate.per_second)
    assert abs(start - (datetime.now(UTC) + ahead)) < timedelta(seconds=5)
    assert finish - start == timedelta(seconds=2.0)
    assert await estimates.queue(status_document(processing_record())) is None


def test_a_running_reports_finish_is_estimated_from_its_own_rate() -> None:
    started = datetime.now(UTC) - timedelta(seconds=10)
    running = dataclasses.replace(
        processing_record(), started_at=started, progress=Progress(250, 1000)
    )
    now = started + timedelta(seconds=10)
    finish = estimated_finish(status_document(running), now)
    assert finish is not None
    assert datetime.fromisoformat(finish) == now + timedelta(seconds=30)
    unknown = dataclasses.replace(running, progress=Progress(250))
    assert estimated_finish(status_document(unknown), now) is None
