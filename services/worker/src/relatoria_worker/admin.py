"""`relatoria-admin`: operator commands. Every command is safe to run again.

  relatoria-admin queues [--json]
  relatoria-admin inspect <request id> [--json]
  relatoria-admin requeue --id <request id> | --stuck [--older-than SECONDS] | --failed [--type T]
  relatoria-admin dead-letters list
  relatoria-admin dead-letters replay --id ID | --type TYPE | --code ERROR_CODE | --all
  relatoria-admin dead-letters discard --id ID | --type TYPE | --code ERROR_CODE | --all
  relatoria-admin sweep [--json]
  relatoria-admin cleanup [--json]

`queues` shows every queue of the namespace (work queues of both lanes, the retry delay
queues of the current backoff settings, the dead-letter queue): ready messages and
consumers. It only looks (passive declares): a queue that does not exist is reported
absent, never created.

`inspect` shows one request as each store holds it: its PostgreSQL row (every field), its
Redis status document (raw, or absent) and its S3 object (size, type, or absent).

`requeue` puts requests back to work and publishes them. `--id`: a queued request is
published again (claims are idempotent, so a duplicate is harmless), a `processing` one
whose lease expired is taken back as the sweeper would, an `error` one is replayed as
`dead-letters replay --id` does; `done`, `expired` and `cancelled` requests are refused,
and so is a `processing` one whose worker still holds its lease. `--stuck`: a sweep that
takes back `processing` requests whose lease expired and publishes `queued` requests not
picked up for `--older-than` seconds (600). `--failed`: every `error` request (of one
`--type`), as `dead-letters replay` does.

Listing reads the dead-letter queue without consuming it. Replaying works from
PostgreSQL, the source of truth: it resets the chosen `error` requests to `queued` with a
fresh round of attempts and publishes them (a request whose dead letter never reached the
queue is replayed too). Then every letter whose request is no longer `error` is removed
from the queue. Replaying twice changes nothing more.

`sweep` runs the sweeper once; `cleanup` runs the artifact-retention cleanup once
(deletes the files of reports past `ARTIFACT_RETENTION_SECONDS`, marks them `expired`).
Exit status: 0 done, 1 refused or partly failed, 2 bad usage.
"""

import argparse
import asyncio
import contextlib
import dataclasses
import json
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractRobustConnection,
)
from aiormq.exceptions import ChannelNotFoundEntity
from redis.asyncio import Redis
from redis.exceptions import RedisError

from relatoria_shared.cache.status_cache import StatusCache, create_redis
from relatoria_shared.db.engine import create_engine
from relatoria_shared.db.repository import ReportRepository
from relatoria_shared.dispatch import Dispatcher
from relatoria_shared.domain.errors import StorageError
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.report import ReportRecord, status_document
from relatoria_shared.domain.status import ReportStatus
from relatoria_shared.logging_setup import configure_logging
from relatoria_shared.messaging.contract import DeadLetter, MalformedMessage
from relatoria_shared.messaging.publisher import JobPublisher
from relatoria_shared.messaging.topology import Topology, declare_for
from relatoria_shared.settings import Settings
from relatoria_shared.storage.object_store import ObjectStore
from relatoria_worker.retention import ArtifactCleanup, CleanupResult, artifact_key
from relatoria_worker.sweeper import Sweeper

STUCK_AFTER_SECONDS = 600.0
MIN_STUCK_SECONDS = 60.0
NOT_REQUEUEABLE = frozenset({ReportStatus.DONE, ReportStatus.EXPIRED, ReportStatus.CANCELLED})


@dataclass(frozen=True)
class Admin:
    """Connections an admin command works with."""

    settings: Settings
    repository: ReportRepository
    cache: StatusCache
    redis: "Redis"
    store: ObjectStore
    amqp_connection: AbstractRobustConnection | None = None
    job_publisher: JobPublisher | None = None

    @property
    def amqp(self) -> AbstractRobustConnection:
        """The broker connection (commands that need one connect with `broker=True`)."""
        if self.amqp_connection is None:
            raise RuntimeError("this command was started without a broker connection")
        return self.amqp_connection

    @property
    def publisher(self) -> JobPublisher:
        """A publisher on the declared topology (commands that publish connect with
        `declare=True`)."""
        if self.job_publisher is None:
            raise RuntimeError("this command was started without declaring the topology")
        return self.job_publisher

    def sweeper(self, settings: Settings | None = None) -> Sweeper:
        """The sweeper, as the workers run it (or with other `settings`)."""
        return Sweeper(
            settings=settings or self.settings,
            repository=self.repository,
            cache=self.cache,
            publisher=self.publisher,
        )


@contextlib.asynccontextmanager
async def connect(
    settings: Settings, *, broker: bool = True, declare: bool = True
) -> AsyncIterator[Admin]:
    """Open what the commands need; close it all afterwards. `broker`: connect to
    RabbitMQ; `declare`: declare the topology (idempotently) and publish on it."""
    engine = create_engine(settings)
    redis = create_redis(settings)
    amqp = await aio_pika.connect_robust(settings.amqp_url.get_secret_value()) if broker else None
    try:
        publisher = None
        if amqp is not None and declare:
            channel = await amqp.channel(publisher_confirms=True)
            declared = await declare_for(amqp, channel, settings)
            publisher = JobPublisher(declared, settings.publish_timeout_seconds)
        yield Admin(
            settings=settings,
            repository=ReportRepository(engine, artifact_retention=settings.artifact_retention),
            cache=StatusCache.from_settings(redis, settings),
            redis=redis,
            store=ObjectStore(settings),
            amqp_connection=amqp,
            job_publisher=publisher,
        )
    finally:
        if amqp is not None:
            await amqp.close()
        await redis.aclose()
        await engine.dispose()


# --- queues ----------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueDepth:
    """One queue as the broker reports it; `exists` False when it was never declared."""

    name: str
    role: str
    exists: bool
    messages: int | None = None
    consumers: int | None = None


def queue_names(settings: Settings) -> list[tuple[str, str]]:
    """(name, role) of every queue of the namespace, as the settings describe them."""
    topology = Topology(settings.amqp_namespace)
    names = [(topology.work_queue(lane), f"work {lane.value}") for lane in Lane]
    names += [
        (topology.retry_queue(delay, lane), f"retry {lane.value} {delay:g}s")
        for lane in Lane
        for delay in settings.retry_policy.levels()
    ]
    names.append((topology.dead_queue, "dead letters"))
    return names


async def queue_depths(admin: Admin) -> list[QueueDepth]:
    """Ready messages and consumers of every queue, by passive declares (nothing created)."""
    depths: list[QueueDepth] = []
    channel: AbstractChannel | None = None
    try:
        for name, role in queue_names(admin.settings):
            if channel is None or channel.is_closed:
                channel = await admin.amqp.channel()
            try:
                queue = await channel.declare_queue(name, passive=True)
            except ChannelNotFoundEntity:  # the broker closed the channel
                depths.append(QueueDepth(name=name, role=role, exists=False))
                continue
            declared = queue.declaration_result
            depths.append(
                QueueDepth(
                    name=name,
                    role=role,
                    exists=True,
                    messages=declared.message_count,
                    consumers=declared.consumer_count,
                )
            )
    finally:
        if channel is not None and not channel.is_closed:
            await channel.close()
    return depths


def _print_queues(depths: list[QueueDepth]) -> None:
    width = max(len(d.name) for d in depths)
    print(f"{'queue':<{width}}  {'role':<24} {'ready':>8} {'consumers':>9}")
    for d in depths:
        if d.exists:
            print(f"{d.name:<{width}}  {d.role:<24} {d.messages:>8} {d.consumers:>9}")
        else:
            print(f"{d.name:<{width}}  {d.role:<24} {'absent':>8} {'-':>9}")


# --- inspect ---------------------------------------------------------------------------


async def inspect_request(admin: Admin, request_id: uuid.UUID) -> dict[str, Any]:
    """The request as PostgreSQL, Redis and S3 each hold it (None where absent)."""
    record = await admin.repository.get(request_id)
    cache_key = admin.cache.key(request_id)
    cache: dict[str, Any] = {"key": cache_key}
    try:
        raw = await admin.redis.hget(cache_key, "doc")
        cache["document"] = None if raw is None else json.loads(raw)
        cache["ttlSeconds"] = None if raw is None else await admin.redis.ttl(cache_key)
    except RedisError as exc:
        cache["error"] = f"Redis unavailable: {exc}"
    stored: dict[str, Any] = {}
    if record is not None:
        key = artifact_key(admin.settings, record)
        stored = {"bucket": admin.store.bucket, "key": key}
        try:
            head = await asyncio.to_thread(admin.store.head, key)
        except StorageError as exc:
            stored["error"] = str(exc)
        else:
            stored["exists"] = head is not None
            if head is not None:
                stored |= {
                    "sizeBytes": head.size_bytes,
                    "contentType": head.content_type,
                    "lastModified": head.last_modified,
                    "etag": head.etag,
                }
    return {
        "requestId": str(request_id),
        "database": None if record is None else dataclasses.asdict(record),
        "cache": cache,
        "object": stored or None,
    }


PARAMETERS_SHOWN = 2_000


def _print_inspection(found: dict[str, Any]) -> None:
    print(f"request {found['requestId']}")
    row = found["database"]
    print("\nPostgreSQL (report_requests):")
    if row is None:
        print("  absent")
    else:
        for name, value in row.items():
            shown = json.dumps(value, default=str, ensure_ascii=False)
            if name == "parameters" and len(shown) > PARAMETERS_SHOWN:
                more = len(shown) - PARAMETERS_SHOWN
                shown = f"{shown[:PARAMETERS_SHOWN]}… ({more} more characters; --json for all)"
            print(f"  {name}: {shown}")
    cache = found["cache"]
    print(f"\nRedis ({cache['key']}):")
    if "error" in cache:
        print(f"  {cache['error']}")
    elif cache["document"] is None:
        print("  absent")
    else:
        print(f"  ttl: {cache['ttlSeconds']} s")
        print(f"  {json.dumps(cache['document'], ensure_ascii=False)}")
    stored = found["object"]
    print("\nS3:")
    if stored is None:
        print("  (no request, no object key)")
    elif "error" in stored:
        print(f"  s3://{stored['bucket']}/{stored['key']}: {stored['error']}")
    elif not stored["exists"]:
        print(f"  s3://{stored['bucket']}/{stored['key']}: absent")
    else:
        print(
            f"  s3://{stored['bucket']}/{stored['key']}: {stored['sizeBytes']} bytes, "
            f"{stored['contentType']}, last modified {stored['lastModified']}"
        )


# --- requeue ---------------------------------------------------------------------------


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
            "(error) and abandoned (processing, lease expired) requests can be requeued"
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
        if not await Dispatcher(admin.publisher, admin.repository).dispatch(record):
            return Outcome("the broker did not confirm the publish; try again", {"requeued": 0}, 1)
        return Outcome(f"published queued request {request_id} again", {"requeued": 1})
    return await _requeue_processing(admin, record)


async def _requeue_processing(admin: Admin, record: ReportRecord) -> Outcome:
    lease = record.lease_expires_at
    if lease is not None and lease > datetime.now(UTC):
        return Outcome(
            f"refused: request {record.id} is processing on {record.worker_id}, whose lease "
            f"runs until {lease.isoformat()}; a live worker holds it",
            {"requeued": 0},
            1,
        )
    done = await admin.sweeper().sweep_once()
    after = await admin.repository.get(record.id)
    now = after.status.value if after else "gone"
    return Outcome(
        f"swept abandoned work ({_counts(done)}); request {record.id} is now {now}",
        done,
        0 if after and after.status is not ReportStatus.PROCESSING else 1,
    )


async def requeue_stuck(admin: Admin, older_than_seconds: float) -> Outcome:
    """Sweep as the workers do, with `older_than_seconds` as the publish grace and the
    republish delay, until a pass finds nothing more."""
    settings = admin.settings.model_copy(
        update={
            "publish_grace_seconds": older_than_seconds,
            "republish_after_seconds": older_than_seconds,
        }
    )
    sweeper = admin.sweeper(settings)
    total: dict[str, int] = {}
    for _ in range(1_000):
        done = await sweeper.sweep_once()
        for name, count in done.items():
            total[name] = total.get(name, 0) + count
        if not any(done.values()):
            break
    return Outcome(f"stuck requests: {_counts(total)}", total)


async def requeue_failed(admin: Admin, report_type: str | None) -> Outcome:
    """Every `error` request (of `report_type`) gets a fresh round, as a replay does."""
    replayed, removed = await replay_dead_letters(admin, request_id=None, report_type=report_type)
    return Outcome(
        f"requeued {replayed} failed request(s); removed {removed} settled dead letter(s)",
        {"requeued": replayed, "lettersRemoved": removed},
    )


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items()) or "nothing"


# --- cleanup ---------------------------------------------------------------------------


async def cleanup(admin: Admin, now: datetime | None = None) -> CleanupResult:
    """One pass of the artifact-retention cleanup."""
    return await ArtifactCleanup(
        settings=admin.settings, repository=admin.repository, cache=admin.cache, store=admin.store
    ).run_once(now)


# --- dead letters ----------------------------------------------------------------------


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
    dispatcher = Dispatcher(admin.publisher, admin.repository)
    replayed = await admin.repository.replay(
        report_id=request_id, report_type=report_type, error_code=error_code
    )
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


async def discard_dead_letters(
    admin: Admin,
    *,
    request_id: uuid.UUID | None,
    report_type: str | None,
    error_code: str | None = None,
) -> int:
    """Remove the chosen letters (all when no filter) from the queue without replaying
    them: their requests stay `error`, as their owners see them. For failures that no
    replay can fix (the request itself was at fault); returns the letters removed."""
    channel = await admin.amqp.channel()
    removed = 0
    try:
        for message, letter in await _fetch_all(channel, _dead_queue(admin)):
            if letter is None or (request_id and letter.request_id != request_id):
                continue
            if report_type and letter.report_type != report_type:
                continue
            if error_code and letter.error_code != error_code:
                continue
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


async def _queues(admin: Admin, args: argparse.Namespace) -> int:
    depths = await queue_depths(admin)
    if args.json:
        print(json.dumps([dataclasses.asdict(d) for d in depths]))
    else:
        _print_queues(depths)
    return 0


async def _inspect(admin: Admin, args: argparse.Namespace) -> int:
    found = await inspect_request(admin, args.request_id)
    if args.json:
        print(json.dumps(found, default=str, ensure_ascii=False))
    else:
        _print_inspection(found)
    return 0 if found["database"] is not None else 1


async def _requeue(admin: Admin, args: argparse.Namespace) -> int:
    if args.id:
        outcome = await requeue_one(admin, args.id)
    elif args.stuck:
        older_than = STUCK_AFTER_SECONDS if args.older_than is None else args.older_than
        outcome = await requeue_stuck(admin, older_than)
    else:
        outcome = await requeue_failed(admin, args.type)
    if args.json:
        print(json.dumps(outcome.counts | {"message": outcome.message}))
    else:
        print(outcome.message, file=sys.stderr if outcome.status else sys.stdout)
    return outcome.status


async def _sweep(admin: Admin, args: argparse.Namespace) -> int:
    done = await admin.sweeper().sweep_once()
    print(json.dumps(done) if args.json else f"swept: {_counts(done)}")
    return 0


async def _cleanup(admin: Admin, args: argparse.Namespace) -> int:
    result = await cleanup(admin)
    if args.json:
        print(json.dumps(result.as_dict()))
    else:
        print(
            f"expired {result.expired} report(s); "
            f"{result.failed} delete failure(s) (retried next run)"
        )
    return 1 if result.failed else 0


async def _dead_letters(admin: Admin, args: argparse.Namespace) -> int:
    if args.action == "list":
        _print_letters(await list_dead_letters(admin))
        return 0
    if args.action == "discard":
        discarded = await discard_dead_letters(
            admin, request_id=args.id, report_type=args.type, error_code=args.code
        )
        print(f"discarded {discarded} dead letter(s); their requests stay error")
        return 0
    replayed, removed = await replay_dead_letters(
        admin, request_id=args.id, report_type=args.type, error_code=args.code
    )
    print(f"replayed {replayed}; removed {removed} settled dead letter(s)")
    return 0


Command = Callable[[Admin, argparse.Namespace], Awaitable[int]]
# Each command: what it runs, whether it needs the broker, whether it publishes.
COMMANDS: dict[str, tuple[Command, bool, bool]] = {
    "queues": (_queues, True, False),
    "inspect": (_inspect, False, False),
    "requeue": (_requeue, True, True),
    "dead-letters": (_dead_letters, True, True),
    "sweep": (_sweep, True, True),
    "cleanup": (_cleanup, False, False),
}


def _usage_error(args: argparse.Namespace) -> str | None:
    if args.command == "requeue":
        if args.older_than is not None and not args.stuck:
            return "--older-than goes with --stuck"
        if args.type is not None and not args.failed:
            return "--type goes with --failed"
    replaying = args.command == "dead-letters" and args.action == "replay"
    if replaying and not (args.id or args.type or args.code or args.all):
        return "replay needs --id, --type, --code or --all"
    return None


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the parsed command; its exit status."""
    if (problem := _usage_error(args)) is not None:
        print(problem, file=sys.stderr)
        return 2
    command, broker, declare = COMMANDS[args.command]
    async with connect(settings, broker=broker, declare=declare) as admin:
        return await command(admin, args)


def _stuck_age(value: str) -> float:
    # Requests published by one pass must not be due again in the next one, or every
    # pass would publish the whole queue once more.
    seconds = float(value)
    if seconds < MIN_STUCK_SECONDS:
        raise argparse.ArgumentTypeError(f"must be at least {MIN_STUCK_SECONDS:g} seconds")
    return seconds


def build_parser() -> argparse.ArgumentParser:
    """The command line of `relatoria-admin`."""
    parser = argparse.ArgumentParser(
        prog="relatoria-admin",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    queues = commands.add_parser("queues", help="ready messages and consumers of every queue")
    queues.add_argument("--json", action="store_true", help="machine-readable output")

    inspect = commands.add_parser("inspect", help="one request in PostgreSQL, Redis and S3")
    inspect.add_argument("request_id", type=uuid.UUID, help="the request id")
    inspect.add_argument("--json", action="store_true", help="machine-readable output")

    requeue = commands.add_parser("requeue", help="put requests back to work and publish them")
    which = requeue.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=uuid.UUID, help="one request")
    which.add_argument(
        "--stuck", action="store_true", help="abandoned and long-queued requests (a sweep)"
    )
    which.add_argument("--failed", action="store_true", help="every error request")
    requeue.add_argument(
        "--older-than",
        type=_stuck_age,
        metavar="SECONDS",
        help=f"with --stuck: queued for this long (default {STUCK_AFTER_SECONDS:g})",
    )
    requeue.add_argument("--type", help="with --failed: only this report type")
    requeue.add_argument("--json", action="store_true", help="machine-readable output")

    dead = commands.add_parser("dead-letters", help="list, replay or discard dead letters")
    actions = dead.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="show the dead letters without consuming them")
    replay = actions.add_parser("replay", help="replay dead letters")
    chosen = replay.add_mutually_exclusive_group()
    chosen.add_argument("--id", type=uuid.UUID, help="one request id")
    chosen.add_argument("--type", help="every letter of one report type")
    chosen.add_argument("--code", help="every letter of one error code (e.g. STORAGE_ERROR)")
    chosen.add_argument("--all", action="store_true", help="every letter")
    discard = actions.add_parser("discard", help="remove dead letters without replaying them")
    dropped = discard.add_mutually_exclusive_group(required=True)
    dropped.add_argument("--id", type=uuid.UUID, help="one request id")
    dropped.add_argument("--type", help="every letter of one report type")
    dropped.add_argument("--code", help="every letter of one error code (e.g. TOO_LARGE)")
    dropped.add_argument("--all", action="store_true", help="every letter")

    sweep = commands.add_parser("sweep", help="run the sweeper once")
    sweep.add_argument("--json", action="store_true", help="machine-readable output")
    clean = commands.add_parser(
        "cleanup", help="delete the files of reports past their retention; mark them expired"
    )
    clean.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def main() -> None:
    """Entry point of `relatoria-admin`."""
    args = build_parser().parse_args()
    settings = Settings()
    # Warnings and the cleanup's summary as the services log them (JSON in a CronJob), on
    # stderr: stdout is the commands' own output, which `--json` makes machine-readable.
    configure_logging("admin", settings.log_level, settings.log_format, sys.stderr)
    sys.exit(asyncio.run(run(args, settings)))


if __name__ == "__main__":
    main()
