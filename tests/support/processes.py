"""Starting the real BFF and worker processes for end-to-end tests."""

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx


@dataclass
class RunningProcess:
    """A child process of the test run and the file its output goes to."""

    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    def log(self) -> str:
        """Its output so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM, then SIGKILL if it has not exited within `timeout`."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_file.close()

    def kill(self) -> None:
        """SIGKILL, as the OOM killer would."""
        self.process.kill()
        self.process.wait()
        self.log_file.close()


def start(
    module: str, env: dict[str, str], log_path: Path, args: Sequence[str] = ()
) -> RunningProcess:
    """Run `python -m module args...` with `env` added to ours, its output going to
    `log_path`."""
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        env={**os.environ, **env},
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    return RunningProcess(process, log_path, log_file)


def wait_ready(url: str, running: RunningProcess, timeout: float = 30) -> None:
    """Poll `url` until it answers 200, failing with the process's log if it dies or hangs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise RuntimeError(f"process exited early:\n{running.log()[-4000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready in {timeout}s:\n{running.log()[-4000:]}")


def wait_for_log(running: RunningProcess, text: str, timeout: float = 30) -> None:
    """Wait until the process has printed `text`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in running.log():
            return
        if running.process.poll() is not None:
            raise RuntimeError(f"process exited early:\n{running.log()[-4000:]}")
        time.sleep(0.1)
    raise RuntimeError(f"{text!r} not printed in {timeout}s:\n{running.log()[-4000:]}")


async def logged(process: RunningProcess, text: str, times: int = 1, seconds: float = 20) -> None:
    """`wait_for_log` for async tests: the loop keeps running the test's requests
    meanwhile; waits until `process` has logged `text` `times` times."""
    deadline = time.monotonic() + seconds
    while process.log().count(text) < times:
        assert time.monotonic() < deadline, (
            f"{text!r} not logged {times}x:\n{process.log()[-3000:]}"
        )
        await asyncio.sleep(0.05)
