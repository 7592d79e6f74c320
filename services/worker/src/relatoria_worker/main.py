"""`relatoria-worker`: run one worker process (run N of them to scale out)."""

import asyncio
import signal
import sys
import tempfile

from relatoria_shared.logging_setup import configure_logging
from relatoria_shared.settings import Settings
from relatoria_shared.tracing import configure_tracing
from relatoria_worker import glibc_malloc
from relatoria_worker.worker import lower_priority_if_bulk_only, run_worker

MALLOC_ARENAS = 1
"""One arena for all threads: memory freed by one render is reused by the next, whichever
thread runs it. (Allocations made without the interpreter lock, by zlib or a socket,
then share the arena's lock; the benchmarks showed no slowdown beyond their noise.)"""


async def _main(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_worker(settings, stop)


def main() -> None:
    """Entry point: consume until SIGTERM or SIGINT."""
    glibc_malloc.limit_arenas(MALLOC_ARENAS)
    settings = Settings()
    configure_logging("worker", settings.log_level, settings.log_format)
    # The interpreter lock is handed over every 5 ms by default: a bulk render would then
    # hold up the event loop (acks, heartbeats, small jobs) for that long at every await.
    sys.setswitchinterval(0.001)
    if settings.temp_dir:
        # Libraries' own scratch files (openpyxl streams each sheet to one) go there too.
        tempfile.tempdir = settings.temp_dir
    lower_priority_if_bulk_only(settings)
    tracing = configure_tracing("worker", settings)
    try:
        asyncio.run(_main(settings))
    finally:
        tracing.shutdown()  # export the spans still batched


if __name__ == "__main__":
    main()
