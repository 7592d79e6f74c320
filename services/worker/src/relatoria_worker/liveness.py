"""Liveness for orchestrators: the worker touches a file while its event loop turns, and
`relatoria-worker-alive` (an exec probe) checks that the file is fresh.

A worker whose loop is stuck (a deadlock, a call that never returns) stops touching the
file and is restarted; its lease then expires and the sweeper hands its jobs to another
worker. The loop is touched from the start, so a worker patiently waiting for RabbitMQ
counts as alive.
"""

import argparse
import asyncio
import sys
import time
from pathlib import Path

from relatoria_shared.settings import Settings


async def keep_touching(path: Path, interval_seconds: float) -> None:
    """Touch `path` every `interval_seconds` for as long as the event loop runs this."""
    while True:
        _touch(path)
        await asyncio.sleep(interval_seconds)


def _touch(path: Path) -> None:
    # On the loop itself, on purpose: a touch is a few microseconds, and only a loop that
    # turns may vouch for itself.
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def is_fresh(path: Path, max_age_seconds: float, now: float | None = None) -> bool:
    """True if `path` exists and was touched within the last `max_age_seconds`."""
    try:
        modified = path.stat().st_mtime
    except FileNotFoundError:
        return False
    return (time.time() if now is None else now) - modified <= max_age_seconds


def main() -> None:
    """Exit 0 if the worker's liveness file is fresh, 1 otherwise (with the reason)."""
    parser = argparse.ArgumentParser(
        prog="relatoria-worker-alive", description="Liveness probe of a relatoria worker."
    )
    parser.add_argument(
        "--max-age",
        type=float,
        default=60.0,
        help="seconds since the worker last touched its liveness file (default 60)",
    )
    args = parser.parse_args()
    settings = Settings()
    if not settings.liveness_file:
        sys.exit("RELATORIA_LIVENESS_FILE is not set: the worker keeps no liveness file")
    path = Path(settings.liveness_file)
    if not is_fresh(path, args.max_age):
        sys.exit(f"{path} was not touched in the last {args.max_age:g} s")


if __name__ == "__main__":
    main()
