"""The worker's liveness probe: fresh while its event loop turns, stale once it stops."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.cluster import Cluster

pytestmark = pytest.mark.chaos


def probe(env: dict[str, str], max_age: float) -> subprocess.CompletedProcess[str]:
    """Run `relatoria-worker-alive` as the kubelet's exec probe would."""
    return subprocess.run(
        [sys.executable, "-m", "relatoria_worker.liveness", "--max-age", str(max_age)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_a_frozen_worker_fails_its_liveness_probe_and_a_live_one_passes(
    cluster: Cluster, tmp_path: Path
) -> None:
    alive_file = tmp_path / "worker.alive"
    env = {"RELATORIA_LIVENESS_FILE": str(alive_file)}
    assert probe(env, max_age=2).returncode == 1  # no worker has touched it yet

    name = cluster.start_worker(**env)
    assert probe(env, max_age=2).returncode == 0

    worker = cluster.workers[name].process
    worker.send_signal(signal.SIGSTOP)  # a loop that no longer turns
    try:
        time.sleep(3)
        stale = probe(env, max_age=2)
        assert stale.returncode == 1
        assert "was not touched" in stale.stderr
    finally:
        worker.send_signal(signal.SIGCONT)
    deadline = time.monotonic() + 10
    while probe(env, max_age=2).returncode != 0:
        assert time.monotonic() < deadline, "the resumed worker never touched its file again"
        time.sleep(0.2)


def test_the_probe_refuses_when_no_liveness_file_is_configured() -> None:
    result = probe({"RELATORIA_LIVENESS_FILE": ""}, max_age=60)
    assert result.returncode == 1
    assert "RELATORIA_LIVENESS_FILE is not set" in result.stderr
