"""`relatoria-admin requeue`: put requests back to work and wake workers for them."""

import uuid
from dataclasses import dataclass

from relatoria_shared.domain.report import ReportRecord
from relatoria_shared.domain.status import ReportStatus
from relatoria_worker.admin.context import Admin
from relatoria_worker.admin.dead_letters import replay_dead_letters

STUCK_AFTER_SECONDS = 600.0
MIN_STUCK_SECONDS = 60.0
NOT_REQUEUEABLE = frozenset({ReportStatus.DONE, ReportStatus.EXPIRED, ReportStatus.CANCELLED})
BATCH = 200


@dataclass(frozen=True)
class Outcome:
    """What a command did, for the operator, and its exit status."""

    message: str
    counts: dict[str, int]
    status: int = 0


async def requeue_one(admin: Admin, request_id: uuid.UUID) -> Outcome:
    """Put one request back to work, if its state allows it."""
    record = await admin.repository.get(request_id)
    if record is None:
        return Outcome(f"no request {request_id}", {"requeued": 0}, 1)
    if record.status in NOT_REQUEUEABLE:
        return Outcome(
            f"refused: request {request_id} is {record.status.value}; only queued, failed "
            "(error) and abandoned (processing, its worker gone) requests can be requeued"
            + ("; ask for the report again" if record.status is not ReportStatus.DONE else ""),
            {"requeued": 0},
            1,
        )
    if record.status is ReportStatus.ERROR:
        replayed, removed = await replay_dead_letters(
            admin, request_id=request_id, report_type=None
        )
        return Outcome(
            f"requeued {replayed} failed request with a fresh round of attempts; "
            f"removed {removed} settled dead letter(s)",
            {"requeued": replayed, "lettersRemoved": removed},
        )
    if record.status is ReportStatus.QUEUED:
        await admin.transitions.requeue(record)
        return Outcome(f"woke workers for queued request {request_id} again", {"requeued": 1})
    return await _requeue_processing(admin, record)


async def _requeue_processing(admin: Admin, record: ReportRecord) -> Outcome:
    requeued, failed = await _take_back_all(admin)
    done = {"requeued": requeued, "failed": failed}
    after = await admin.repository.get(record.id)
    if after is not None and after.status is ReportStatus.PROCESSING:
        lease = after.lease_expires_at
        return Outcome(
            f"refused: request {record.id} is processing on {after.worker_id}, which is alive "
            f"(its lease runs until {lease.isoformat() if lease else '-'}); a live worker "
            "holds it",
            {"requeued": 0},
            1,
        )
    now = after.status.value if after else "gone"
    return Outcome(
        f"took back abandoned work ({counts_text(done)}); request {record.id} is now {now}", done
    )


async def requeue_stuck(admin: Admin, older_than_seconds: float) -> Outcome:
    """Take back the jobs of dead and silent workers, as the sweeper does, and wake workers
    for requests queued (and due) for longer than `older_than_seconds`."""
    requeued, failed = await _take_back_all(admin)
    woken = await admin.repository.queued_longer_than(older_than_seconds, limit=10_000)
    for stuck in woken:
        await admin.transitions.requeue(stuck)
    total = {"requeued": requeued, "failed": failed, "published": len(woken)}
    return Outcome(f"stuck requests: {counts_text(total)}", total)


async def _take_back_all(admin: Admin) -> tuple[int, int]:
    requeued = failed = 0
    for _ in range(1_000):
        batch = await admin.transitions.take_back_abandoned(BATCH)
        requeued, failed = requeued + batch[0], failed + batch[1]
        if batch[0] + batch[1] < BATCH:
            break
    return requeued, failed


async def requeue_failed(admin: Admin, report_type: str | None) -> Outcome:
    """Every `error` request (of `report_type`) gets a fresh round, as a replay does."""
    replayed, removed = await replay_dead_letters(admin, request_id=None, report_type=report_type)
    return Outcome(
        f"requeued {replayed} failed request(s); removed {removed} settled dead letter(s)",
        {"requeued": replayed, "lettersRemoved": removed},
    )


def counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items()) or "nothing"
