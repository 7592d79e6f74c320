"""Turn a claimed request into a stored file: render to a temporary file, hash, upload.

Blocking work (rendering is CPU-bound, boto3 is synchronous): the job runner calls it in
a thread so the event loop keeps acking, heartbeating and serving other jobs.
"""

import hashlib
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from relatoria_shared.domain.errors import InvalidParametersError
from relatoria_shared.domain.report import Artifact, ReportRecord
from relatoria_shared.domain.table import Cell, TableData, columns_from_stored, typed_rows
from relatoria_shared.storage.object_store import ObjectStore, download_file_name, object_key
from relatoria_worker.job_control import JobControl
from relatoria_worker.renderers.registry import renderer_for

_HASH_CHUNK = 1024 * 1024


class ArtifactBuilder:
    """Renders a request's table and uploads it under its deterministic key."""

    def __init__(self, store: ObjectStore, key_prefix: str, temp_dir: str | None) -> None:
        self._store = store
        self._key_prefix = key_prefix
        self._temp_dir = temp_dir

    def build(self, record: ReportRecord, control: JobControl) -> Artifact:
        """Render and upload `record`'s report, stopping between rows if `control` says so;
        the temporary file never outlives the call."""
        table = _table_of(record, control)
        fmt = record.format
        key = object_key(self._key_prefix, record.id, fmt)
        file_name = download_file_name(record.title, fmt)
        # A private directory, removed with everything in it on every path out.
        with tempfile.TemporaryDirectory(dir=self._temp_dir, prefix="relatoria-") as scratch:
            path = Path(scratch) / f"report.{fmt.extension}"
            with path.open("wb") as destination:
                stats = renderer_for(fmt).render(table, destination)
            size, digest = _size_and_sha256(path)
            control.check()
            self._store.upload_file(path, key, fmt.content_type, file_name)
        return Artifact(
            object_key=key,
            content_type=fmt.content_type,
            file_name=file_name,
            size_bytes=size,
            sha256=digest,
            row_count=stats.row_count,
            page_count=stats.page_count,
        )


def _table_of(record: ReportRecord, control: JobControl) -> TableData:
    try:
        columns = columns_from_stored(record.parameters["columns"])
        rows = record.parameters.get("rows", [])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidParametersError(f"the stored parameters are unusable: {exc}") from None
    return TableData(
        title=record.title,
        columns=columns,
        rows=_stoppable(typed_rows(columns, rows), control),
        generated_at=datetime.now(UTC),
    )


def _stoppable(rows: Iterator[list[Cell]], control: JobControl) -> Iterator[list[Cell]]:
    for row in rows:
        control.check()
        yield row


def _size_and_sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
