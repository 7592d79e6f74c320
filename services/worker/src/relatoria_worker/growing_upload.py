"""Uploading a file while it is still being written: each part as soon as it is complete.

A CSV export writes its file front to back and never goes back, so waiting for the last
row before uploading would add the whole upload to the report's time. Instead a thread
follows the file as it grows and sends every complete part (read from the file as it is
sent, never held in memory); once the last row is written, only the tail is left. A file
that ends smaller than one part goes up in one request, as before. Parts are invisible
until the upload is completed, so an export that fails or is stopped leaves no object:
its parts are dropped.
"""

import threading
from pathlib import Path
from types import TracebackType

from relatoria_shared.storage.object_store import ObjectStore, UploadedPart

PART_BYTES = 8 * 1024 * 1024
"""Size of the first parts (S3 wants at least 5 MiB for every part but the last)."""

PARTS_PER_SIZE = 1000
"""Parts of one size before the size doubles: S3 allows 10,000 parts, so a fixed 8 MiB
would stop at 78 GiB; doubling every 1,000 parts leaves no practical limit."""

_POLL_SECONDS = 0.05


class GrowingFileUpload:
    """Uploads `path` to `key` while it is being written; `finish()` once it is complete.

    Use as a context manager around the writing: leaving it without `finish()` (a
    failure, a stop) stops sending at once and drops what was sent. The writer calls
    `check()` now and then to hear early of a part that could not be stored.
    """

    def __init__(
        self,
        store: ObjectStore,
        path: Path,
        key: str,
        *,
        content_type: str,
        file_name: str,
        part_bytes: int = PART_BYTES,
    ) -> None:
        self._store = store
        self._path = path
        self._key = key
        self._content_type = content_type
        self._file_name = file_name
        self._part_bytes = part_bytes
        self._written = threading.Event()
        self._upload_id: str | None = None
        self._parts: list[UploadedPart] = []
        self._sent = 0
        self._error: Exception | None = None
        self._completed = False
        self._follower = threading.Thread(target=self._follow, name="upload-follower", daemon=True)

    def __enter__(self) -> "GrowingFileUpload":
        self._follower.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop_following()  # after the part in flight, if any: no backlog is sent
        if not self._completed and self._upload_id is not None:
            self._store.abort_parts(self._key, self._upload_id)

    def check(self) -> None:
        """Raise the `StorageError` of a part that could not be stored, if any: the
        export can stop rather than render on for nothing."""
        if self._error is not None:
            raise self._error

    def finish(self) -> None:
        """The file is complete: send what is left and make the object. Raises the
        `StorageError` of any part that failed."""
        self._stop_following()
        self.check()
        if self._upload_id is None:  # never reached a whole part: one plain upload
            self._store.upload_file(self._path, self._key, self._content_type, self._file_name)
        else:
            size = self._path.stat().st_size
            while self._sent < size:
                self._send_part(min(self._next_part_bytes(), size - self._sent))
            self._store.complete_parts(self._key, self._upload_id, self._parts)
        self._completed = True

    def _stop_following(self) -> None:
        self._written.set()
        if self._follower.is_alive():
            self._follower.join()

    def _follow(self) -> None:
        try:
            while not self._written.wait(_POLL_SECONDS):
                while (
                    not self._written.is_set()
                    and self._size() - self._sent >= self._next_part_bytes()
                ):
                    self._send_part(self._next_part_bytes())
        except Exception as exc:  # the writer hears of it from check() or finish()
            self._error = exc

    def _size(self) -> int:
        try:
            return self._path.stat().st_size
        except FileNotFoundError:  # the writer has not opened it yet
            return 0

    def _next_part_bytes(self) -> int:
        return self._part_bytes << (len(self._parts) // PARTS_PER_SIZE)

    def _send_part(self, length: int) -> None:
        if self._upload_id is None:
            self._upload_id = self._store.start_parts(
                self._key, self._content_type, self._file_name
            )
        part = self._store.upload_part(
            self._key,
            self._upload_id,
            len(self._parts) + 1,
            path=self._path,
            offset=self._sent,
            length=length,
        )
        self._parts.append(part)
        self._sent += length
