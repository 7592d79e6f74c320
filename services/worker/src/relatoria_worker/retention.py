"""Artifact retention: a `done` report's file is kept `artifact_retention_seconds` after it
finished; then the cleanup deletes it from S3 and the report becomes `expired`.

`relatoria-admin cleanup` runs one pass (the chart's CronJob runs it hourly). Each batch
locks the due rows (`FOR UPDATE SKIP LOCKED`, so concurrent cleanups share the work and
never handle a row twice), deletes their objects, marks them `expired` (a new version)
and commits; a file that cannot be deleted is left for a later pass, and this one goes on
with the others; then the new status documents go to the Redis cache, whose versioned writes
never let a document go backwards. A crash between a delete and the commit leaves the row
`done`: the next pass deletes again (a missing object is fine) and marks it. A second
pass finds nothing to do.

Expired reports keep their artifact metadata (`result` still says what the file was) and
their `expires_at`; they have no `downloadUrl`, and `GET …/download` answers `410`.
"""

import asyncio
import logging
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime

from relatoria_shared.domain.errors import StorageError
from relatoria_shared.domain.report import ReportRecord
from relatoria_shared.settings import Settings
from relatoria_shared.storage.object_store import ObjectStore, object_key
from relatoria_shared.transitions.maintenance import MaintenanceTransitions

log = logging.getLogger(__name__)

BATCH = 100


@dataclass(frozen=True)
class CleanupResult:
    """What one cleanup pass did."""

    expired: int
    """Reports whose file was deleted and that are now `expired`."""
    failed: int
    """Files that could not be deleted (their reports stay `done` until a later pass, and
    the rest of this one goes on without them)."""
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
        transitions: MaintenanceTransitions,
        store: ObjectStore,
        batch: int = BATCH,
    ) -> None:
        self._settings = settings
        self._transitions = transitions
        self._store = store
        self._batch = batch

    async def run_once(self, now: datetime | None = None) -> CleanupResult:
        """Expire every due report (due as of `now`, PostgreSQL's clock by default)."""
        retention = self._settings.artifact_retention
        while await self._transitions.stamp_missing_expiry(retention):
            pass  # rows finished before expiries were stamped: one scan by expiry after
        expired = batches = 0
        not_deleted: set[uuid.UUID] = set()
        while True:
            count, failed = await self._transitions.expire_due(
                self._batch, delete=self._delete, skip=not_deleted, now=now
            )
            batches += 1
            expired += count
            not_deleted.update(failed)
            # A short batch: nothing more is due, or other cleanups hold the rest. One that
            # deleted nothing: S3 itself is failing, so the next pass tries again.
            if count + len(failed) < self._batch or (failed and not count):
                break
        result = CleanupResult(expired=expired, failed=len(not_deleted), batches=batches)
        if expired or not_deleted:
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
