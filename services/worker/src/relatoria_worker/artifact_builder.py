"""Turn a claimed request into a stored file: render, hash, upload.

Blocking work (rendering is CPU-bound, boto3 is synchronous): the job runner calls `build`
in a render thread so the event loop keeps acking, heartbeating, fetching rows and serving
other jobs. A report known to be small (an inline table of at most `IN_MEMORY_ROWS` rows) is
rendered in memory and sent in one PUT; any other streams from its source through the renderer into
a temporary file, which goes to S3 (in parts when large) and is removed on every path out.

Small interactive renders take turns (one at a time per worker process): they are pure CPU
work on rows already in memory, and render threads contending for the interpreter lock
spent 13-27% more CPU on the same renders than when run in turn. Their uploads, and
everything else the jobs wait on, still overlap.

The tiniest interactive reports (at most `ON_LOOP_CELLS` cells) skip the thread for their
render: the job runner calls `render_tiny` on the event loop itself (a few milliseconds,
well within a heartbeat) and only their upload (`store`) in a thread, sparing the hand-over
of the interpreter lock between the loop and a render thread. In three interleaved pairs of
`make bench` drains of 1,000 100x5 XLSX reports, worker CPU per report was 1.24-1.28x the
bare loop's with the render in a thread, 1.11-1.20x with it on the loop.
"""

import contextlib
import hashlib
import io
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from relatoria_shared.domain.artifact_keys import attempt_key
from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.report import Artifact, ReportRecord
from relatoria_shared.domain.table import Cell, TableData
from relatoria_shared.storage.object_store import ObjectStore, download_file_name
from relatoria_shared.tracing import span
from relatoria_worker.growing_upload import GrowingFileUpload
from relatoria_worker.interactive_first import CHECK_EVERY_ROWS, InteractiveFirst
from relatoria_worker.job_control import JobControl
from relatoria_worker.metrics import WorkerMetrics
from relatoria_worker.renderers.base import Renderer, RenderStats
from relatoria_worker.row_sources import RowSource

_HASH_CHUNK = 1024 * 1024
IN_MEMORY_ROWS = 5_000
"""Reports of at most this many rows (known in advance) are rendered in memory: a few
hundred kilobytes, cheaper than a scratch directory, a file and reading it back twice."""
ON_LOOP_CELLS = 1_000
"""Interactive reports of at most this many cells are rendered on the event loop: at most
about 20 ms (XLSX and PDF cost about 12 ms per 500 cells here, CSV under 1 ms)."""


@dataclass(frozen=True)
class RenderedFile:
    """A report rendered in memory, not yet stored."""

    content: bytes
    stats: RenderStats
    render_seconds: float


class ArtifactBuilder:
    """Renders a request's rows and uploads the file under its deterministic key."""

    def __init__(
        self,
        store: ObjectStore,
        key_prefix: str,
        temp_dir: str | None,
        renderer_for: Callable[[ReportFormat], Renderer],
        priority: InteractiveFirst,
        *,
        metrics: WorkerMetrics,
    ) -> None:
        """Bulk renders step aside for the interactive work `priority` knows of; `metrics`
        times each file's render and upload."""
        self._store = store
        self._key_prefix = key_prefix
        self._temp_dir = temp_dir
        self._renderer_for = renderer_for
        self._priority = priority
        self._metrics = metrics
        self._small_render_turn = threading.Lock()

    def build(
        self, record: ReportRecord, source: RowSource, control: JobControl, lane: Lane
    ) -> Artifact:
        """Render and upload `record`'s report, stopping between rows if `control` says so;
        the temporary file never outlives the call. Bulk renders step aside, between rows,
        while this worker runs interactive jobs (only rendering needs to: hashing and
        uploading mostly wait on I/O and C code)."""
        fmt = record.format
        every_few_rows = [self._priority.step_aside] if lane is Lane.BULK else []
        rows = _exact_rows(source)
        if rows is not None and rows <= IN_MEMORY_ROWS:
            # Not a bulk render's turn: it steps aside for interactive jobs, which would
            # then wait for it.
            turn = self._small_render_turn if lane is Lane.INTERACTIVE else contextlib.nullcontext()
            with turn:
                in_memory = self._in_memory(record, source, control, every_few_rows)
            return self.store(record, in_memory)
        renderer = self._renderer_for(fmt)
        key = attempt_key(self._key_prefix, record.id, record.attempts, fmt)
        file_name = download_file_name(record.title, fmt)
        # A private directory, removed with everything in it on every path out.
        with tempfile.TemporaryDirectory(dir=self._temp_dir, prefix="relatoria-") as scratch:
            path = Path(scratch) / f"report.{fmt.extension}"
            # A file written front to back goes up in parts while it is written.
            upload = (
                GrowingFileUpload(
                    self._store, path, key, content_type=fmt.content_type, file_name=file_name
                )
                if renderer.writes_in_order
                else None
            )
            if upload is not None:
                every_few_rows.append(upload.check)  # a failed part stops the render
            table = _table(record, source, control, every_few_rows)
            span_attributes = {"relatoria.format": fmt.value}
            with upload if upload is not None else contextlib.nullcontext():
                started = time.monotonic()
                with span("render", attributes=span_attributes):
                    stats, size, digest = _render_to(renderer, table, path)
                rendered = time.monotonic()
                control.check()
                # A file written in order has sent most of its parts by now: what is left.
                with span("upload", attributes=span_attributes):
                    if upload is None:
                        self._store.upload_file(path, key, fmt.content_type, file_name)
                    else:
                        upload.finish()
            self._metrics.file_stored(fmt, rendered - started, time.monotonic() - rendered)
        return _artifact(key, fmt, file_name=file_name, size=size, digest=digest, stats=stats)

    @staticmethod
    def renders_tiny(source: RowSource, lane: Lane) -> bool:
        """Whether `render_tiny` is for this report: interactive, at most `ON_LOOP_CELLS`
        cells known in advance."""
        rows = _exact_rows(source)
        return (
            lane is Lane.INTERACTIVE
            and rows is not None
            and rows * max(len(source.columns), 1) <= ON_LOOP_CELLS
        )

    def render_tiny(
        self, record: ReportRecord, source: RowSource, control: JobControl
    ) -> RenderedFile:
        """Render a report `renders_tiny` accepts, in memory, in the calling thread."""
        return self._in_memory(record, source, control, ())

    def _in_memory(
        self,
        record: ReportRecord,
        source: RowSource,
        control: JobControl,
        every_few_rows: Sequence[Callable[[], None]],
    ) -> RenderedFile:
        fmt = record.format
        table = _table(record, source, control, every_few_rows)
        started = time.monotonic()
        with span("render", attributes={"relatoria.format": fmt.value}):
            buffer = io.BytesIO()
            stats = self._renderer_for(fmt).render(table, buffer)
        rendered = RenderedFile(buffer.getvalue(), stats, time.monotonic() - started)
        control.check()
        return rendered

    def store(self, record: ReportRecord, rendered: RenderedFile) -> Artifact:
        """Upload a file rendered in memory under `record`'s key (blocking: boto3)."""
        fmt = record.format
        key = attempt_key(self._key_prefix, record.id, record.attempts, fmt)
        file_name = download_file_name(record.title, fmt)
        started = time.monotonic()
        with span("upload", attributes={"relatoria.format": fmt.value}):
            self._store.put_bytes(rendered.content, key, fmt.content_type, file_name)
        self._metrics.file_stored(fmt, rendered.render_seconds, time.monotonic() - started)
        return _artifact(
            key,
            fmt,
            file_name=file_name,
            size=len(rendered.content),
            digest=hashlib.sha256(rendered.content).hexdigest(),
            stats=rendered.stats,
        )


def _exact_rows(source: RowSource) -> int | None:
    """The rows `source` will give, if counted in advance (a planner's estimate can be off
    by millions: it is not a count)."""
    return source.expected_rows if source.exact else None


def _table(
    record: ReportRecord,
    source: RowSource,
    control: JobControl,
    every_few_rows: Sequence[Callable[[], None]],
) -> TableData:
    return TableData(
        title=record.title,
        columns=source.columns,
        rows=_counted(source.rows, control, every_few_rows),
        generated_at=datetime.now(UTC),
    )


def _artifact(
    key: str, fmt: ReportFormat, *, file_name: str, size: int, digest: str, stats: RenderStats
) -> Artifact:
    return Artifact(
        object_key=key,
        content_type=fmt.content_type,
        file_name=file_name,
        size_bytes=size,
        sha256=digest,
        row_count=stats.row_count,
        page_count=stats.page_count,
    )


def _counted(
    rows: Iterable[Sequence[Cell]],
    control: JobControl,
    every_few_rows: Sequence[Callable[[], None]],
) -> Iterator[Sequence[Cell]]:
    """The rows, counted for progress, stopping at the next one once told to stop, and
    calling `every_few_rows` (stepping aside, upload checks) every few rows."""
    for written, row in enumerate(rows, start=1):
        control.check()
        if every_few_rows and not written % CHECK_EVERY_ROWS:
            for call in every_few_rows:
                call()
        yield row
        control.rows_written = written


def _render_to(renderer: Renderer, table: TableData, path: Path) -> tuple[RenderStats, int, str]:
    """Render `table` into a new file at `path`; what was drawn, the size and SHA-256."""
    with path.open("wb") as destination:
        stats = renderer.render(table, destination)
    return (stats, *_size_and_sha256(path))


def _size_and_sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
