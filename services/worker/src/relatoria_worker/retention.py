"""Artifact retention: a `done` report's file is kept `artifact_retention_seconds` after it
finished; then the cleanup deletes it from S3 and the report becomes `expired`. The same
pass removes every stored file no request needs any more, and the inline data of `error`
requests older than the retention (kept until then for a replay).

`relatoria-admin cleanup` runs one pass (the chart's CronJob runs it hourly). Each batch
reads due rows, deletes their objects, then marks those still `done` as `expired` (a new
version); no row lock is held while S3 answers. A file that cannot be deleted is left for
a later pass, and this one goes on with the others; then the new status documents go to
the Redis cache, whose versioned writes never let a document go backwards. A crash
between a delete and the mark leaves the row `done`: the next pass deletes again (a
missing object is fine) and marks it. Concurrent cleanups may delete the same object
twice, harmlessly; each report is marked once. A second pass finds nothing to do.

Then the pass lists the bucket's keys under the prefix, a page at a time, and deletes those
`artifact_keys.still_needed` rejects: uploads of attempts that lost their claim (or were
killed before they could remove them), and files of cancelled reports whose delete failed.
Listing costs one request per 1,000 objects, hourly.

Expired reports keep their artifact metadata (`result` still says what the file was) and
their `expires_at`; they have no `downloadUrl`, and `GET …/download` answers `410`.
"""

import asyncio
import logging
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime

from relatoria_shared.domain.artifact_keys import parse_key, still_needed
from relatoria_shared.domain.errors import StorageError
from relatoria_shared.domain.report import ReportRecord
from relatoria_shared.settings import Settings
from relatoria_shared.storage.object_store import ObjectStore
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
    orphans_removed: int
    """Stored files no request needed any more, deleted."""
    orphans_left: int
    """Such files whose delete failed (the next pass tries again)."""
    parameters_deleted: int
    """`error` requests older than the retention whose inline data was deleted."""

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
        orphans_removed, orphans_left = await self._remove_orphans()
        parameters_deleted = 0
        while count := await self._transitions.delete_old_error_parameters(retention, self._batch):
            parameters_deleted += count
        result = CleanupResult(
            expired=expired,
            failed=len(not_deleted),
            batches=batches,
            orphans_removed=orphans_removed,
            orphans_left=orphans_left,
            parameters_deleted=parameters_deleted,
        )
        if any(count for name, count in result.as_dict().items() if name != "batches"):
            log.info("artifact cleanup", extra=result.as_dict())
        return result

    async def _remove_orphans(self) -> tuple[int, int]:
        """Delete the stored files no request needs: (deleted, not deleted)."""
        prefix = self._settings.s3_key_prefix
        removed = left = 0
        token: str | None = None
        while True:
            try:
                keys, token = await asyncio.to_thread(self._store.list_page, prefix, token)
            except StorageError:
                log.warning("listing stored files failed; the next pass looks again")
                return removed, left
            parsed = {key: found for key in keys if (found := parse_key(prefix, key))}
            # Read after listing: an attempt recorded meanwhile is seen `done` with its key.
            holders = await self._transitions.file_holders(
                list({found.report_id for found in parsed.values()})
            )
            for key, found in parsed.items():
                if still_needed(key, found, holders.get(found.report_id)):
                    continue
                try:
                    await asyncio.to_thread(self._store.delete, key)
                except StorageError:
                    left += 1
                    continue
                removed += 1
            if token is None:
                return removed, left

    async def _delete(self, record: ReportRecord) -> bool:
        if record.artifact is None:  # nothing was recorded: nothing to delete
            return True
        key = record.artifact.object_key
        try:
            await asyncio.to_thread(self._store.delete, key)
        except StorageError:
            log.warning(
                "expired artifact not deleted; retried next pass",
                extra={"request_id": str(record.id), "key": key},
            )
            return False
        return True
