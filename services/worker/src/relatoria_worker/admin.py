"""`relatoria-admin`: operator commands. Every command is safe to run again.

  relatoria-admin dead-letters list
  relatoria-admin dead-letters replay --id <request id> | --type <report type> | --all
  relatoria-admin sweep

Listing reads the dead-letter queue without consuming it. Replaying works from
PostgreSQL, the source of truth: it resets the chosen `error` requests to `queued` with a
fresh round of attempts and publishes them (a request whose dead letter never reached the
queue is replayed too). Then every letter whose request is no longer `error` is removed
from the queue. Replaying twice changes nothing more.
"""

import argparse
import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection

from relatoria_shared.cache.status_cache import StatusCache, create_redis
from relatoria_shared.db.engine import create_engine
from relatoria_shared.db.repository import ReportRepository
from relatoria_shared.dispatch import Dispatcher
from relatoria_shared.domain.report import status_document
from relatoria_shared.domain.status import ReportStatus
from relatoria_shared.messaging.contract import DeadLetter, MalformedMessage
from relatoria_shared.messaging.publisher import JobPublisher
from relatoria_shared.messaging.topology import Topology, declare_for
from relatoria_shared.settings import Settings
from relatoria_worker.sweeper import Sweeper


@dataclass(frozen=True)
class Admin:
    """Connections an admin command works with."""

    settings: Settings
    repository: ReportRepository
    cache: StatusCache
    amqp: AbstractRobustConnection
    publisher: JobPublisher


@contextlib.asynccontextmanager
async def connect(settings: Settings) -> AsyncIterator[Admin]:
    """Open what the commands need; close it all afterwards."""
    engine = create_engine(settings)
    redis = create_redis(settings)
    amqp = await aio_pika.connect_robust(settings.amqp_url.get_secret_value())
    try:
        channel = await amqp.channel(publisher_confirms=True)
        declared = await declare_for(amqp, channel, settings)
        yield Admin(
            settings=settings,
            repository=ReportRepository(engine),
            cache=StatusCache.from_settings(redis, settings),
            amqp=amqp,
            publisher=JobPublisher(declared, settings.publish_timeout_seconds),
        )
    finally:
        await amqp.close()
        await redis.aclose()
        await engine.dispose()


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
    admin: Admin, *, request_id: uuid.UUID | None, report_type: str | None
) -> tuple[int, int]:
    """Replay the chosen `error` requests (all when no filter); returns (replayed, letters
    removed)."""
    dispatcher = Dispatcher(admin.publisher, admin.repository)
    replayed = await admin.repository.replay(report_id=request_id, report_type=report_type)
    for record in replayed:
        await admin.cache.put(status_document(record))
        await dispatcher.dispatch(record)
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


def _dead_queue(admin: Admin) -> str:
    return Topology(admin.settings.amqp_namespace).dead_queue


def _print_letters(letters: list[DeadLetter]) -> None:
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


async def _run(args: argparse.Namespace) -> int:
    async with connect(Settings()) as admin:
        if args.command == "sweep":
            sweeper = Sweeper(
                settings=admin.settings,
                repository=admin.repository,
                cache=admin.cache,
                publisher=admin.publisher,
            )
            print(await sweeper.sweep_once())
            return 0
        if args.action == "list":
            _print_letters(await list_dead_letters(admin))
            return 0
        if not (args.id or args.type or args.all):
            print("replay needs --id, --type or --all", file=sys.stderr)
            return 2
        replayed, removed = await replay_dead_letters(
            admin, request_id=uuid.UUID(args.id) if args.id else None, report_type=args.type
        )
        print(f"replayed {replayed}; removed {removed} settled dead letter(s)")
        return 0


def main() -> None:
    """Entry point of `relatoria-admin`."""
    parser = argparse.ArgumentParser(
        prog="relatoria-admin",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    dead = commands.add_parser("dead-letters", help="list or replay dead letters")
    actions = dead.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="show the dead letters without consuming them")
    replay = actions.add_parser("replay", help="replay dead letters")
    chosen = replay.add_mutually_exclusive_group()
    chosen.add_argument("--id", help="one request id")
    chosen.add_argument("--type", help="every letter of one report type")
    chosen.add_argument("--all", action="store_true", help="every letter")
    commands.add_parser("sweep", help="run the sweeper once")
    sys.exit(asyncio.run(_run(parser.parse_args())))


if __name__ == "__main__":
    main()
