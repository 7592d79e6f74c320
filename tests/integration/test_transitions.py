"""The transition service against the real PostgreSQL, Redis and RabbitMQ: every state
change is recorded, then mirrored to the cache, then messaged, then counted (an accepted
request's wake-up is the notification its recording statement sent)."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest

from relatoria_bff.metrics import BffMetrics
from relatoria_shared.connections import Connections, open_connections
from relatoria_shared.db.jobs import PgJobRepository
from relatoria_shared.db.maintenance import PgMaintenanceRepository
from relatoria_shared.db.pool import connect_one
from relatoria_shared.db.requests import PgRequestRepository
from relatoria_shared.db.wake_channel import WAKE_CHANNEL
from relatoria_shared.domain.errors import ErrorCode
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.report import Artifact, Progress, ReportRecord
from relatoria_shared.domain.request_errors import PostRateExceeded, TooManyInFlight
from relatoria_shared.messaging.contract import DeadLetter, JobMessage
from relatoria_shared.messaging.topology import Topology
from relatoria_shared.settings import Settings
from relatoria_shared.transitions.announce import Announcer, Messenger
from relatoria_shared.transitions.jobs import JobTransitions
from relatoria_shared.transitions.maintenance import MaintenanceTransitions
from relatoria_shared.transitions.requests import RequestTransitions
from relatoria_worker.metrics import Outcome, WorkerMetrics
from tests.support.requests import GENEROUS, new_report, owner_limits

pytestmark = pytest.mark.integration


@pytest.fixture
async def connections(own_settings: Settings) -> AsyncIterator[Connections]:
    async with open_connections(own_settings) as opened:
        await opened.pool.execute("TRUNCATE report_requests, report_owners")
        yield opened


async def queued_messages(settings: Settings, queue_name: str) -> list[bytes]:
    """Every message now in `queue_name`, taken out of it."""
    connection = await aio_pika.connect(settings.amqp_url.get_secret_value())
    bodies = []
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, passive=True)
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            bodies.append(message.body)
    return bodies


@contextlib.asynccontextmanager
async def heard_wakes(settings: Settings) -> AsyncIterator[list[str]]:
    """The lanes of the wake-ups a listening session hears while the block runs (and
    shortly after: notifications arrive once their statement commits)."""
    heard: list[str] = []
    listener = await connect_one(settings)
    try:
        await listener.add_listener(WAKE_CHANNEL, lambda *args: heard.append(args[-1]))
        yield heard
        await listener.fetchval("SELECT 1")  # a round trip: what was sent has arrived
        await asyncio.sleep(0.1)
    finally:
        await listener.close()


def jobs_of(connections: Connections, metrics: WorkerMetrics, worker: str) -> JobTransitions:
    settings = connections.settings
    return JobTransitions(
        PgJobRepository(connections.pool),
        connections.announcer(metrics),
        worker_id=worker,
        lease=settings.lease,
        retention=settings.artifact_retention,
    )


async def test_accept_records_wakes_and_counts(connections: Connections) -> None:
    settings = connections.settings
    metrics = BffMetrics()
    transitions = RequestTransitions(
        PgRequestRepository(connections.pool), connections.announcer(metrics), GENEROUS
    )
    async with heard_wakes(settings) as heard:
        recorded = await transitions.accept(new_report("acceptor", key="k-1"))
        replayed = await transitions.accept(new_report("acceptor", key="k-1"))
    assert recorded.created
    assert not replayed.created
    assert replayed.record.id == recorded.record.id
    # One wake-up, for the request's lane, sent by PostgreSQL: none for the replay.
    assert heard == [Lane.INTERACTIVE.value]
    work = Topology(settings.amqp_namespace).work_queue(Lane.INTERACTIVE)
    assert await queued_messages(settings, work) == []
    # The POST's answer is the status document: the cache is filled by its first read.
    assert await connections.cache.get(recorded.record.id) is None
    assert metrics.reports_accepted.labels("table", "csv")._value.get() == 1


async def test_over_a_limit_nothing_is_recorded_or_announced(connections: Connections) -> None:
    settings = connections.settings
    metrics = BffMetrics()
    requests = PgRequestRepository(connections.pool)
    few = owner_limits(max_in_flight=1)
    slow = owner_limits(posts_per_second=1.0, post_burst=1)
    capped = RequestTransitions(requests, connections.announcer(metrics), few)
    throttled = RequestTransitions(requests, connections.announcer(metrics), slow)
    async with heard_wakes(settings) as heard:
        await capped.accept(new_report("limited"))
        with pytest.raises(TooManyInFlight) as in_flight:
            await capped.accept(new_report("limited"))
        await throttled.accept(new_report("other"))
        with pytest.raises(PostRateExceeded) as too_fast:
            await throttled.accept(new_report("other"))
    assert in_flight.value.retry_after_seconds > 0
    assert 0 < too_fast.value.retry_after_seconds <= 1.0
    assert heard == [Lane.INTERACTIVE.value] * 2
    assert await connections.pool.fetchval("SELECT count(*) FROM report_requests") == 2
    assert metrics.reports_accepted.labels("table", "csv")._value.get() == 2


async def test_a_jobs_life_is_mirrored_step_by_step(connections: Connections) -> None:
    requests = PgRequestRepository(connections.pool)
    bff = RequestTransitions(requests, connections.announcer(BffMetrics()), GENEROUS)
    rid = (await bff.accept(new_report("lifer"))).record.id
    metrics = WorkerMetrics()
    jobs = jobs_of(connections, metrics, "w-life")
    job = await jobs.claim_next(Lane.INTERACTIVE)
    assert job is not None
    cached = await connections.cache.get(rid)
    assert cached is not None
    assert cached.body["status"] == "processing"
    assert await jobs.progress(job.record, Progress(rows_written=1, rows_expected=1))
    cached = await connections.cache.get(rid)
    assert cached is not None
    assert cached.body["progress"] == {
        "rowsWritten": 1,
        "rowsExpected": 1,
        "rowsExpectedIsEstimate": False,
    }
    artifact = Artifact(f"reports/{rid}.csv", "text/csv", "t.csv", 10, "0" * 64, 1, None)
    done = await jobs.complete(job.record, artifact)
    assert done is not None
    cached = await connections.cache.get(rid)
    assert cached is not None
    assert (cached.body["status"], cached.object_key) == ("done", artifact.object_key)
    assert metrics.jobs.labels("interactive", Outcome.DONE.value, "")._value.get() == 1
    assert metrics.artifact_size.labels("csv")._sum.get() == 10


async def test_a_failure_is_dead_lettered_and_a_dead_workers_job_taken_back(
    connections: Connections,
) -> None:
    settings = connections.settings
    requests = PgRequestRepository(connections.pool)
    bff = RequestTransitions(requests, connections.announcer(BffMetrics()), GENEROUS)
    failing = (await bff.accept(new_report("failer", max_attempts=1))).record.id
    metrics = WorkerMetrics()
    jobs = jobs_of(connections, metrics, "w-dead")  # holds no liveness lock: "dead"
    job = await jobs.claim_next(Lane.INTERACTIVE)
    assert job is not None
    assert await jobs.fail(job.record, ErrorCode.RENDER_ERROR, "broken") is not None
    dead = Topology(settings.amqp_namespace).dead_queue
    (letter,) = [DeadLetter.decode(b) for b in await queued_messages(settings, dead)]
    assert (letter.request_id, letter.error_code) == (failing, "RENDER_ERROR")

    abandoned = (await bff.accept(new_report("crashed"))).record.id
    work = Topology(settings.amqp_namespace).work_queue(Lane.INTERACTIVE)
    await queued_messages(settings, work)
    assert await jobs.claim_next(Lane.INTERACTIVE) is not None
    maintenance = MaintenanceTransitions(
        PgMaintenanceRepository(connections.pool),
        connections.announcer(metrics),
        settings.retry_policy,
        settings.lease,
    )
    assert await maintenance.take_back_abandoned(10) == (1, 0)
    cached = await connections.cache.get(abandoned)
    assert cached is not None
    assert (cached.body["status"], cached.body["errorCode"]) == ("queued", "INTERNAL_ERROR")
    woken = [JobMessage.decode(b).request_id for b in await queued_messages(settings, work)]
    assert woken == [abandoned]
    assert metrics.lease_expiries._value.get() == 1
    assert metrics.retries.labels("interactive", "INTERNAL_ERROR")._value.get() == 1


async def test_cancel_is_mirrored(connections: Connections) -> None:
    requests = PgRequestRepository(connections.pool)
    bff = RequestTransitions(requests, connections.announcer(BffMetrics()), GENEROUS)
    rid = (await bff.accept(new_report("canceller"))).record.id
    assert await bff.cancel(rid, "someone-else") is None
    cancelled = await bff.cancel(rid, "canceller")
    assert cancelled is not None
    assert cancelled.recorded_key is None  # it had no file
    cached = await connections.cache.get(rid)
    assert cached is not None
    assert (cached.body["status"], cached.body["errorCode"]) == ("cancelled", "CANCELLED")
    assert await bff.cancel(uuid.uuid4(), "canceller") is None


class WakesFailingFor:
    """The real messenger, except that waking one request fails unexpectedly (a channel
    error nobody anticipated)."""

    def __init__(self, messenger: Messenger, report_id: uuid.UUID) -> None:
        self._messenger = messenger
        self._report_id = report_id

    async def wake(self, record: ReportRecord) -> None:
        if record.id == self._report_id:
            raise RuntimeError("the channel broke")
        await self._messenger.wake(record)

    async def park(self, record: ReportRecord, delay_seconds: float) -> None:
        await self._messenger.park(record, delay_seconds)

    async def dead_letter(self, record: ReportRecord) -> None:
        await self._messenger.dead_letter(record)


async def test_the_sweepers_pass_goes_on_past_a_request_whose_wake_up_fails(
    connections: Connections,
) -> None:
    settings = connections.settings
    bff = RequestTransitions(
        PgRequestRepository(connections.pool), connections.announcer(BffMetrics()), GENEROUS
    )
    ids = [(await bff.accept(new_report(f"swept-{i}"))).record.id for i in range(3)]
    jobs = jobs_of(connections, WorkerMetrics(), "w-dead")  # holds no liveness lock: "dead"
    for _ in ids:
        assert await jobs.claim_next(Lane.INTERACTIVE) is not None
    work = Topology(settings.amqp_namespace).work_queue(Lane.INTERACTIVE)
    await queued_messages(settings, work)
    announcer = Announcer(
        connections.cache, WakesFailingFor(connections.messenger(), ids[0]), WorkerMetrics()
    )
    maintenance = MaintenanceTransitions(
        PgMaintenanceRepository(connections.pool), announcer, settings.retry_policy, settings.lease
    )

    assert await maintenance.take_back_abandoned(10) == (3, 0)

    woken = {JobMessage.decode(b).request_id for b in await queued_messages(settings, work)}
    assert woken == set(ids[1:])
    for rid in ids:  # all three queued again, and mirrored as such
        cached = await connections.cache.get(rid)
        assert cached is not None
        assert cached.body["status"] == "queued"
