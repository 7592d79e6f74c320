"""After start-up the services take its long-lived heap out of the collector's passes and
collects the young generation less often (run in a fresh interpreter: the settings are
process-wide)."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

PROBE = """
import gc, json
import relatoria_worker.worker  # a worker's start-up heap
from relatoria_shared.garbage_collector import GC_YOUNG_THRESHOLD, settle_garbage_collector
before = gc.get_threshold()
settle_garbage_collector()
print(json.dumps({
    "frozen": gc.get_freeze_count(),
    "threshold": gc.get_threshold(),
    "before": before,
    "young": GC_YOUNG_THRESHOLD,
}))
"""


def test_the_start_up_heap_is_frozen_and_young_collections_are_rarer() -> None:
    output = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout
    seen = json.loads(output)

    assert seen["frozen"] > 10_000  # the imported modules' objects, at least
    assert seen["threshold"] == [seen["young"], *seen["before"][1:]]
    assert seen["young"] > seen["before"][0]
