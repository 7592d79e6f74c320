"""`relatoria-admin dead-letters`: list, replay (from PostgreSQL) and discard dead letters."""

import uuid

from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from relatoria_shared.domain.status import ReportStatus
from relatoria_shared.messaging.contract import DeadLetter, MalformedMessage
from relatoria_shared.messaging.topology import Topology
from relatoria_worker.admin.context import Admin


async def _fetch_all(
    channel: AbstractChannel, queue_name: str
) -> list[tuple[AbstractIncomingMessage, DeadLetter | None]]:
    """Every message now in the queue, held unacked (closing the channel returns them)."""
    queue = await channel.get_queue(queue_name)
    held: list[tuple[AbstractIncomingMessage, DeadLetter | None]] = []
    while (message := await queue.get(no_ack=False, fail=False)) is not None:
        try:
            letter: DeadLetter | None = DeadLetter.decode(message.body, dict(message.headers))
        except MalformedMessage:
            letter = None
        held.append((message, letter))
    return held


async def list_dead_letters(admin: Admin) -> list[DeadLetter]:
    """The dead letters, oldest first, left in the queue."""
    channel = await admin.amqp.channel()
    try:
        held = await _fetch_all(channel, _dead_queue(admin))
    finally:
        await channel.close()
    return [letter for _, letter in held if letter is not None]


async def replay_dead_letters(
    admin: Admin,
    *,
    request_id: uuid.UUID | None,
    report_type: str | None,
    error_code: str | None = None,
) -> tuple[int, int]:
    """Replay the chosen `error` requests (all when no filter); returns (replayed, letters
    removed)."""
    replayed = await admin.transitions.replay(
        report_id=request_id, report_type=report_type, error_code=error_code
    )
    return len(replayed), await _remove_settled_letters(admin)


async def _remove_settled_letters(admin: Admin) -> int:
    """Ack the letters whose request is no longer `error`; leave the others queued."""
    channel = await admin.amqp.channel()
    removed = 0
    try:
        held = await _fetch_all(channel, _dead_queue(admin))
        ids = [letter.request_id for _, letter in held if letter is not None]
        current = await admin.repository.statuses(ids)
        for message, letter in held:
            if letter is not None and current.get(letter.request_id) is not ReportStatus.ERROR:
                await message.ack()
                removed += 1
    finally:
        await channel.close()  # what was not acked goes back to the queue
    return removed


async def discard_dead_letters(
    admin: Admin,
    *,
    request_id: uuid.UUID | None,
    report_type: str | None,
    error_code: str | None = None,
) -> int:
    """Remove the chosen letters (all when no filter) from the queue without replaying
    them: their requests stay `error`, as their owners see them, and their inline data,
    which no replay will need now, is deleted (should that fail, the retention cleanup
    deletes it later). For failures that no replay can fix (the request itself was at
    fault); returns the letters removed."""
    channel = await admin.amqp.channel()
    discarded: list[uuid.UUID] = []
    try:
        for message, letter in await _fetch_all(channel, _dead_queue(admin)):
            if letter is None or (request_id and letter.request_id != request_id):
                continue
            if report_type and letter.report_type != report_type:
                continue
            if error_code and letter.error_code != error_code:
                continue
            await message.ack()
            discarded.append(letter.request_id)
    finally:
        await channel.close()  # what was not acked goes back to the queue
    if discarded:
        await admin.transitions.delete_parameters(discarded)
    return len(discarded)


def _dead_queue(admin: Admin) -> str:
    return Topology(admin.settings.amqp_namespace).dead_queue


def print_letters(letters: list[DeadLetter]) -> None:
    if not letters:
        print("no dead letters")
        return
    print(
        f"{'request id':<36}  {'type':<12} {'error code':<18} {'tries':>5}  last failure / message"
    )
    for letter in letters:
        print(
            f"{letter.request_id!s:<36}  {letter.report_type:<12} {letter.error_code:<18} "
            f"{letter.attempts:>5}  {letter.last_failed_at or '-'}  {letter.error_message}"
        )
    print(f"{len(letters)} dead letter(s)")
