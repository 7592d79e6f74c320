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

from relatoria_shared.storage.object_store import ObjectStore

PART_BYTES = 8 * 1024 * 1024
"""Size of every part but the last (S3 wants at least 5 MiB)."""

_POLL_SECONDS = 0.05


class GrowingFileUpload:
    """Uploads `path` to `key` while it is being written; `finish()` once it is complete.

    Use as a context manager around the writing: leaving it without `finish()` (a
    failure, a stop) drops what was sent.
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
        self._etags: list[str] = []
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
        self._stop_following()
        if not self._completed and self._upload_id is not None:
            self._store.abort_parts(self._key, self._upload_id)

    def finish(self) -> None:
        """The file is complete: send what is left and make the object. Raises the
        `StorageError` of any part that failed."""
        self._stop_following()
        if self._error is not None:
            raise self._error
        if self._upload_id is None:  # never reached a whole part: one plain upload
            self._store.upload_file(self._path, self._key, self._content_type, self._file_name)
        else:
            size = self._path.stat().st_size
            while self._sent < size:
                self._send_part(min(self._part_bytes, size - self._sent))
            self._store.complete_parts(self._key, self._upload_id, self._etags)
        self._completed = True

    def _stop_following(self) -> None:
        self._written.set()
        if self._follower.is_alive():
            self._follower.join()

    def _follow(self) -> None:
        try:
            while not self._written.wait(_POLL_SECONDS):
                while self._size() - self._sent >= self._part_bytes:
                    self._send_part(self._part_bytes)
        except Exception as exc:  # the writer hears of it from finish()
            self._error = exc

    def _size(self) -> int:
        try:
            return self._path.stat().st_size
        except FileNotFoundError:  # the writer has not opened it yet
            return 0

    def _send_part(self, length: int) -> None:
        if self._upload_id is None:
            self._upload_id = self._store.start_parts(
                self._key, self._content_type, self._file_name
            )
        etag = self._store.upload_part(
            self._key,
            self._upload_id,
            len(self._etags) + 1,
            path=self._path,
            offset=self._sent,
            length=length,
        )
        self._etags.append(etag)
        self._sent += length
