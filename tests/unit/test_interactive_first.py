"""Bulk renders step aside for interactive ones, but never for longer than the bound."""

import threading
import time

import pytest

from relatoria_worker.interactive_first import InteractiveFirst

pytestmark = pytest.mark.unit


def test_with_no_interactive_render_a_bulk_render_goes_straight_on() -> None:
    started = time.monotonic()
    InteractiveFirst(max_wait_seconds=5).step_aside()
    assert time.monotonic() - started < 0.1


def test_a_bulk_render_waits_until_the_interactive_render_ends() -> None:
    priority = InteractiveFirst(max_wait_seconds=5)
    rendering = threading.Event()
    release = threading.Event()

    def interactive() -> None:
        with priority.interactive():
            rendering.set()
            release.wait()

    thread = threading.Thread(target=interactive)
    thread.start()
    rendering.wait()
    threading.Timer(0.3, release.set).start()
    started = time.monotonic()
    priority.step_aside()
    waited = time.monotonic() - started
    thread.join()
    assert 0.25 <= waited < 2


def test_a_steady_stream_of_interactive_work_delays_bulk_work_only_by_the_bound() -> None:
    priority = InteractiveFirst(max_wait_seconds=0.2)
    with priority.interactive():
        started = time.monotonic()
        priority.step_aside()
        waited = time.monotonic() - started
    assert 0.15 <= waited < 1


def test_after_waiting_the_whole_bound_a_bulk_render_runs_a_while_before_waiting_again() -> None:
    priority = InteractiveFirst(max_wait_seconds=0.2, min_run_seconds=5)
    with priority.interactive():
        priority.step_aside()  # waits the bound
        started = time.monotonic()
        priority.step_aside()
        priority.step_aside()
        assert time.monotonic() - started < 0.1
