"""When the worker claims: a wake-up heard while every slot is busy is not lost, and a
closing consumer stops waiting for a slot at once."""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import cast

import pytest

from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.report import Job
from relatoria_worker.consumer import JobConsumer
from relatoria_worker.job_runner import JobRunner
from relatoria_worker.metrics import WorkerMetrics
from tests.support.polling import until
from tests.support.requests import processing_record

pytestmark = pytest.mark.unit

IDLE_POLL = 60.0  # far longer than any wait here: only wake-ups can start a job


def a_job() -> Job:
    record = processing_record(fmt=ReportFormat.CSV)
    return Job(record=record, parameters={}, due_since=datetime.now(UTC))


class QueueOfJobs:
    """What PostgreSQL would hand out: the jobs committed so far, in order; each job runs
    until it is let go."""

    def __init__(self) -> None:
        self.due: list[Job] = []
        self.finished: list[Job] = []
        self.let_go: dict[uuid.UUID, asyncio.Event] = {}
        self.slow_claim: asyncio.Event | None = None
        """When set: the next claim sees what is due now, then answers once this is set
        (a statement whose snapshot predates a commit)."""

    async def claim(self, _: Lane) -> Job | None:
        snapshot = self.due.pop(0) if self.due else None
        if self.slow_claim is not None:
            gate, self.slow_claim = self.slow_claim, None
            await gate.wait()
        return snapshot

    async def process(self, job: Job) -> None:
        await self.let_go.setdefault(job.record.id, asyncio.Event()).wait()
        self.finished.append(job)

    def finish(self, job: Job) -> None:
        self.let_go.setdefault(job.record.id, asyncio.Event()).set()


def consumer_of(jobs: QueueOfJobs) -> JobConsumer:
    present = asyncio.Event()
    present.set()
    return JobConsumer(
        cast(JobRunner, jobs),
        1,
        Lane.INTERACTIVE,
        WorkerMetrics(),
        idle_poll_seconds=IDLE_POLL,
        present=present,
    )


async def test_a_wake_up_heard_while_every_slot_is_busy_runs_its_request() -> None:
    jobs = QueueOfJobs()
    consumer = consumer_of(jobs)
    claiming = asyncio.create_task(consumer.claim_when_woken())
    first, second = a_job(), a_job()
    jobs.due.append(first)
    consumer.wake()
    await until(lambda: first.record.id in jobs.let_go)  # the one slot is busy
    # The slot's job ends and it looks for more work: its claim's snapshot comes before
    # the second request commits, whose wake-up is heard while the slot is still held.
    answered = asyncio.Event()
    jobs.slow_claim = answered
    jobs.finish(first)
    await until(lambda: first in jobs.finished)
    jobs.due.append(second)
    consumer.wake()
    await asyncio.sleep(0.05)  # the wake-up is taken in while the slot is held
    answered.set()  # "nothing due", and the slot is free again
    jobs.finish(second)
    await until(lambda: second in jobs.finished)  # long before the idle poll
    consumer.close()
    await asyncio.wait_for(claiming, 1)


async def test_closing_stops_the_wait_for_a_slot_at_once() -> None:
    jobs = QueueOfJobs()
    consumer = consumer_of(jobs)
    claiming = asyncio.create_task(consumer.claim_when_woken())
    busy = a_job()
    jobs.due.append(busy)
    consumer.wake()
    await until(lambda: busy.record.id in jobs.let_go)
    consumer.wake()  # waits for the busy slot
    await asyncio.sleep(0.05)
    consumer.close()
    await asyncio.wait_for(claiming, 1)  # without the busy job ending
    jobs.finish(busy)
    await until(lambda: busy in jobs.finished)
