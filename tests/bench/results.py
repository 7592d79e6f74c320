"""Where `make bench` keeps its figures, and how a benchmark states its verdicts."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def save_results(name: str, results: dict[str, Any]) -> Path:
    """Write `results` as JSON under tests/bench/results/, named `name` and the time."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    return path


def verdict_line(verdict: dict[str, bool]) -> str:
    """`name PASS, name MISS, …` of each target."""
    return ", ".join(f"{name} {'PASS' if ok else 'MISS'}" for name, ok in verdict.items())
