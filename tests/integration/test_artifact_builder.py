"""The worker's artifact builder against S3 (moto): how concurrent small renders share a
worker process, and which reports are rendered without a render thread."""

import hashlib
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO

import pytest

from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.report import Artifact
from relatoria_shared.domain.table import Cell, TableData, columns_from_stored
from relatoria_shared.settings import Settings
from relatoria_shared.storage.object_store import ObjectStore
from relatoria_worker.artifact_builder import ON_LOOP_CELLS, ArtifactBuilder
from relatoria_worker.interactive_first import InteractiveFirst
from relatoria_worker.job_control import JobControl
from relatoria_worker.metrics import WorkerMetrics
from relatoria_worker.renderers.base import Renderer, RenderStats
from relatoria_worker.renderers.xlsx import XlsxRenderer
from relatoria_worker.row_sources import RowSource
from tests.support.api import COLUMNS
from tests.support.requests import processing_record

pytestmark = pytest.mark.integration

CONCURRENT_JOBS = 4


class OverlapCountingRenderer:
    """The real XLSX renderer, slowed a little, counting how many renders ran at once."""

    writes_in_order = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self.most_at_once = 0

    def render(self, table: TableData, destination: BinaryIO) -> RenderStats:
        with self._lock:
            self._running += 1
            self.most_at_once = max(self.most_at_once, self._running)
        try:
            time.sleep(0.05)  # long enough for the other threads to arrive meanwhile
            return XlsxRenderer().render(table, destination)
        finally:
            with self._lock:
                self._running -= 1


def _rows(count: int) -> RowSource:
    rows: list[list[Cell]] = [[f"Cliente {i}", i, i * 1.25] for i in range(count)]
    return RowSource(
        columns=columns_from_stored(COLUMNS[:3]), rows=rows, expected_rows=count, exact=True
    )


def _builder(settings: Settings, renderer: Renderer, prefix: str) -> ArtifactBuilder:
    """A builder rendering every format with `renderer`, storing under `prefix` on moto."""
    return ArtifactBuilder(
        ObjectStore(settings),
        f"{prefix}-{uuid.uuid4().hex[:6]}",
        None,
        lambda _fmt: renderer,
        InteractiveFirst(),
        metrics=WorkerMetrics(),
    )


def _build_at_once(settings: Settings, lane: Lane) -> int:
    """Build CONCURRENT_JOBS small reports of `lane` from as many threads; how many
    renders ran at once, at most."""
    renderer = OverlapCountingRenderer()
    builder = _builder(settings, renderer, "turns")

    def build_one(_: int) -> Artifact:
        return builder.build(processing_record(lane), _rows(2), JobControl(), lane)

    with ThreadPoolExecutor(CONCURRENT_JOBS) as pool:
        built = list(pool.map(build_one, range(CONCURRENT_JOBS)))
    assert all(artifact.size_bytes > 0 for artifact in built)
    return renderer.most_at_once


def test_small_interactive_renders_take_turns(settings: Settings) -> None:
    """Render threads contending for the interpreter lock spend more CPU on the same
    renders than when they run in turn."""
    assert _build_at_once(settings, Lane.INTERACTIVE) == 1


def test_bulk_renders_do_not_wait_for_a_turn(settings: Settings) -> None:
    """A bulk render steps aside for interactive jobs: waiting for a turn as well could
    leave each waiting for the other."""
    assert _build_at_once(settings, Lane.BULK) > 1


def test_a_file_rendered_in_memory_is_stored_as_rendered(settings: Settings) -> None:
    """A tiny report is rendered on the job runner's loop, then stored from a thread: the
    file stored is the file rendered, and its record says so."""
    store = ObjectStore(settings)
    builder = _builder(settings, XlsxRenderer(), "tiny")
    record = processing_record(Lane.INTERACTIVE)

    rendered = builder.render_tiny(record, _rows(2), JobControl())
    with ThreadPoolExecutor(1) as thread:
        artifact = thread.submit(builder.store, record, rendered).result()

    stored = store.head(artifact.object_key)
    assert stored is not None
    assert stored.size_bytes == artifact.size_bytes == len(rendered.content)
    assert artifact.sha256 == hashlib.sha256(rendered.content).hexdigest()
    assert artifact.row_count == 2
    store.delete(artifact.object_key)


def test_only_tiny_interactive_tables_skip_the_render_threads() -> None:
    """At most ON_LOOP_CELLS cells, counted in advance, of an interactive report: a few
    milliseconds of rendering. Anything larger, or bulk, renders in a thread."""
    most_rows = ON_LOOP_CELLS // 3
    assert ArtifactBuilder.renders_tiny(_rows(most_rows), Lane.INTERACTIVE)
    assert not ArtifactBuilder.renders_tiny(_rows(most_rows + 1), Lane.INTERACTIVE)
    assert not ArtifactBuilder.renders_tiny(_rows(2), Lane.BULK)
    estimated = RowSource(columns=_rows(2).columns, rows=[], expected_rows=2, exact=False)
    assert not ArtifactBuilder.renders_tiny(estimated, Lane.INTERACTIVE)
