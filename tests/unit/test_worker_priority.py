"""A worker that serves only the bulk lane runs at the bulk nice value; others do not."""

import os
import sys
import threading

import pytest

from relatoria_shared.domain.lanes import Lane
from relatoria_shared.settings import Settings
from relatoria_worker.worker import lower_priority_if_bulk_only

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(sys.platform != "linux", reason="nice values per thread are Linux's"),
]


def _nice_after(settings: Settings) -> tuple[int, int]:
    """The nice value of a fresh thread after the call, and of a thread it then starts."""
    seen: list[int] = []

    def child() -> None:
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    def main() -> None:
        lower_priority_if_bulk_only(settings)
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        started = threading.Thread(target=child)
        started.start()
        started.join()

    thread = threading.Thread(target=main)  # the test's own thread keeps its priority
    thread.start()
    thread.join()
    return seen[0], seen[1]


def test_a_bulk_only_worker_and_every_thread_it_starts_run_at_the_bulk_nice_value() -> None:
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    nice = min(19, base + 7)
    settings = Settings(worker_lanes=[Lane.BULK], bulk_render_nice=nice)
    assert _nice_after(settings) == (nice, nice)


@pytest.mark.parametrize("lanes", [[Lane.INTERACTIVE], [Lane.INTERACTIVE, Lane.BULK]])
def test_a_worker_with_interactive_work_keeps_its_priority(lanes: list[Lane]) -> None:
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    settings = Settings(worker_lanes=lanes, bulk_render_nice=min(19, base + 7))
    assert _nice_after(settings) == (base, base)
