"""Artifact retention: a `done` report's file is kept `artifact_retention_seconds` after it
finished; then the cleanup deletes it from S3 and the report becomes `expired`.

`relatoria-admin cleanup` runs one pass (the chart's CronJob runs it hourly). Each batch
locks the due rows (`FOR UPDATE SKIP LOCKED`, so concurrent cleanups share the work and
never handle a row twice), deletes their objects, marks them `expired` (a new version)
and commits; then the new status documents go to the Redis cache, whose versioned writes
never let a document go backwards. A crash between a delete and the commit leaves the row
`done`: the next pass deletes again (a missing object is fine) and marks it. A second
pass finds nothing to do.

Expired reports keep their artifact metadata (`result` still says what the file was) and
their `expires_at`; they have no `downloadUrl`, and `GET …/download` answers `410`.
"""

import asyncio
import logging
from dataclasses import asdict, dataclass
from datetime import datetime

from relatoria_shared.cache.status_cache import StatusCache
from relatoria_shared.db.repository import ReportRepository
from relatoria_shared.domain.errors import StorageError
from relatoria_shared.domain.report import ReportRecord, status_document
from relatoria_shared.settings import Settings
from relatoria_shared.storage.object_store import ObjectStore, object_key

log = logging.getLogger(__name__)

BATCH = 100


@dataclass(frozen=True)
class CleanupResult:
    """What one cleanup pass did."""

    expired: int
    """Reports whose file was deleted and that are now `expired`."""
    failed: int
    """Files that could not be deleted (their reports stay `done` until the next pass)."""
    batches: int

    def as_dict(self) -> dict[str, int]:
        """The counts, for logs and `--json`."""
        return asdict(self)


class ArtifactCleanup:
    """Deletes the files of reports past their retention and marks those `expired`."""

    def __init__(
        self,
        *,
        settings: Settings,
        repository: ReportRepository,
        cache: StatusCache,
        store: ObjectStore,
        batch: int = BATCH,
    ) -> None:
        self._settings = settings
        self._repository = repository
        self._cache = cache
        self._store = store
        self._batch = batch

    async def run_once(self, now: datetime | None = None) -> CleanupResult:
        """Expire every due report (due as of `now`, PostgreSQL's clock by default)."""
        expired = failed = batches = 0
        while True:
            records, stopped = await self._repository.expire_due(
                self._batch,
                retention=self._settings.artifact_retention,
                delete=self._delete,
                now=now,
            )
            batches += 1
            for record in records:
                await self._cache.put(status_document(record))
            expired += len(records)
            if stopped:
                failed += 1
                break
            # A short batch: nothing more is due, or other cleanups hold the rest.
            if len(records) < self._batch:
                break
        result = CleanupResult(expired=expired, failed=failed, batches=batches)
        if expired or failed:
            log.info("artifact cleanup", extra=result.as_dict())
        return result

    async def _delete(self, record: ReportRecord) -> bool:
        key = artifact_key(self._settings, record)
        try:
            await asyncio.to_thread(self._store.delete, key)
        except StorageError:
            log.warning(
                "expired artifact not deleted; retried next pass",
                extra={"request_id": str(record.id), "key": key},
            )
            return False
        return True


def artifact_key(settings: Settings, record: ReportRecord) -> str:
    """Where `record`'s file is (or would be) stored."""
    if record.artifact is not None:
        return record.artifact.object_key
    return object_key(settings.s3_key_prefix, record.id, record.format)
