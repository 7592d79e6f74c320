"""The command line of `relatoria-admin`: parse, connect, run one command, exit."""

import argparse
import asyncio
import dataclasses
import json
import sys
import uuid
from collections.abc import Awaitable, Callable

from relatoria_shared.logging_setup import configure_logging
from relatoria_shared.settings import Settings
from relatoria_worker.admin import dead_letters, inspect, queues, requeue, webhook_letters
from relatoria_worker.admin.context import Admin, connect
from relatoria_worker.retention import ArtifactCleanup


async def _queues(admin: Admin, args: argparse.Namespace) -> int:
    depths = await queues.queue_depths(admin)
    if args.json:
        print(json.dumps([dataclasses.asdict(d) for d in depths]))
    else:
        queues.print_queues(depths)
    return 0


async def _inspect(admin: Admin, args: argparse.Namespace) -> int:
    found = await inspect.inspect_request(admin, args.request_id)
    if args.json:
        print(json.dumps(found, default=str, ensure_ascii=False))
    else:
        inspect.print_inspection(found)
    return 0 if found["database"] is not None else 1


async def _requeue(admin: Admin, args: argparse.Namespace) -> int:
    if args.id:
        outcome = await requeue.requeue_one(admin, args.id)
    elif args.stuck:
        older_than = requeue.STUCK_AFTER_SECONDS if args.older_than is None else args.older_than
        outcome = await requeue.requeue_stuck(admin, older_than)
    else:
        outcome = await requeue.requeue_failed(admin, args.type)
    if args.json:
        print(json.dumps(outcome.counts | {"message": outcome.message}))
    else:
        print(outcome.message, file=sys.stderr if outcome.status else sys.stdout)
    return outcome.status


async def _sweep(admin: Admin, args: argparse.Namespace) -> int:
    done = await admin.sweeper().sweep_once()
    print(json.dumps(done) if args.json else f"swept: {requeue.counts_text(done)}")
    return 0


async def _cleanup(admin: Admin, args: argparse.Namespace) -> int:
    result = await ArtifactCleanup(
        settings=admin.settings, transitions=admin.transitions, store=admin.connections.store
    ).run_once()
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
        dead_letters.print_letters(await dead_letters.list_dead_letters(admin))
        return 0
    if args.action == "discard":
        discarded = await dead_letters.discard_dead_letters(
            admin, request_id=args.id, report_type=args.type, error_code=args.code
        )
        print(f"discarded {discarded} dead letter(s); their requests stay error")
        return 0
    replayed, removed = await dead_letters.replay_dead_letters(
        admin, request_id=args.id, report_type=args.type, error_code=args.code
    )
    print(f"replayed {replayed}; removed {removed} settled dead letter(s)")
    return 0


async def _webhooks(admin: Admin, args: argparse.Namespace) -> int:
    if args.action == "dead":
        webhook_letters.print_dead(await webhook_letters.list_dead(admin))
        return 0
    replayed, removed = await webhook_letters.replay(
        admin, delivery_id=args.id, owner_id=args.owner
    )
    print(f"replayed {replayed} webhook delivery(ies); removed {removed} dead letter(s)")
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
    "webhooks": (_webhooks, True, False),
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
    replaying = args.command == "webhooks" and args.action == "replay"
    if replaying and not (args.id or args.owner or args.all):
        return "replay needs --id, --owner or --all"
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
    if seconds < requeue.MIN_STUCK_SECONDS:
        raise argparse.ArgumentTypeError(f"must be at least {requeue.MIN_STUCK_SECONDS:g} seconds")
    return seconds


def _delivery_id(value: str) -> uuid.UUID:
    # As receivers see it (`msg_<hex>`, the webhook-id header) or as a bare UUID.
    try:
        return uuid.UUID(value.removeprefix("msg_"))
    except ValueError:
        raise argparse.ArgumentTypeError("not a webhook id (msg_…) or UUID") from None


def build_parser() -> argparse.ArgumentParser:
    """The command line of `relatoria-admin`."""
    parser = argparse.ArgumentParser(
        prog="relatoria-admin",
        description=sys.modules["relatoria_worker.admin"].__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    queues = commands.add_parser("queues", help="ready messages and consumers of every queue")
    queues.add_argument("--json", action="store_true", help="machine-readable output")

    inspect = commands.add_parser("inspect", help="one request in PostgreSQL, Redis and S3")
    inspect.add_argument("request_id", type=uuid.UUID, help="the request id")
    inspect.add_argument("--json", action="store_true", help="machine-readable output")

    requeuing = commands.add_parser("requeue", help="put requests back to work and publish them")
    which = requeuing.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=uuid.UUID, help="one request")
    which.add_argument(
        "--stuck", action="store_true", help="abandoned and long-queued requests (a sweep)"
    )
    which.add_argument("--failed", action="store_true", help="every error request")
    requeuing.add_argument(
        "--older-than",
        type=_stuck_age,
        metavar="SECONDS",
        help=f"with --stuck: queued for this long (default {requeue.STUCK_AFTER_SECONDS:g})",
    )
    requeuing.add_argument("--type", help="with --failed: only this report type")
    requeuing.add_argument("--json", action="store_true", help="machine-readable output")

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

    hooks = commands.add_parser("webhooks", help="list or replay webhook deliveries given up")
    hook_actions = hooks.add_subparsers(dest="action", required=True)
    hook_actions.add_parser("dead", help="the deliveries given up, newest first")
    hook_replay = hook_actions.add_parser("replay", help="try dead deliveries again")
    hooks_chosen = hook_replay.add_mutually_exclusive_group()
    hooks_chosen.add_argument("--id", type=_delivery_id, help="one delivery (its webhook id)")
    hooks_chosen.add_argument("--owner", help="every dead delivery of one owner")
    hooks_chosen.add_argument("--all", action="store_true", help="every dead delivery")

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
