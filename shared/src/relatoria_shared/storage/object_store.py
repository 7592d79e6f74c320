"""The one S3 module both services use: upload (worker), presign and delete (BFF), head,
list and delete (the admin CLI and the retention cleanup).

Uploads go to `s3_endpoint_url`; presigned URLs are signed for `s3_public_endpoint_url`
because clients may reach the object store at another address than the workers do.
boto3 is blocking, so callers on an event loop run these methods in a thread.
"""

import contextlib
import logging
import re
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeAlias
from urllib.parse import quote

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from s3transfer.utils import ReadFileChunk

from relatoria_shared.domain.errors import StorageError
from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

UploadedPart: TypeAlias = "CompletedPartTypeDef"
"""One stored part of a multipart upload, as S3 wants it back at completion."""

PART_CHECKSUM: Final = "CRC32"
"""The checksum every part of a multipart upload carries (boto3's default)."""

log = logging.getLogger(__name__)


def download_file_name(title: str, fmt: ReportFormat) -> str:
    """A file name made from the report title (Unicode kept; path characters removed)."""
    cleaned = re.sub(r'[\\/:*?"<>|\x00-\x1f\x7f]+', " ", title)
    cleaned = re.sub(r"\s+", " ", cleaned).strip(" .") or "report"
    return f"{cleaned[:120]}.{fmt.extension}"


def content_disposition(file_name: str) -> str:
    """An RFC 6266 `attachment` header: ASCII fallback plus the UTF-8 name (RFC 5987)."""
    ascii_name = (
        unicodedata.normalize("NFKD", file_name).encode("ascii", "ignore").decode() or "report"
    )
    ascii_name = ascii_name.replace('"', "").replace("\\", "")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(file_name, safe='')}"


@dataclass(frozen=True)
class StoredObject:
    """What S3 says about a stored object (a HEAD request)."""

    key: str
    size_bytes: int
    content_type: str | None
    last_modified: datetime | None
    etag: str | None


class ObjectStore:
    """Artifacts in one S3 bucket."""

    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.s3_bucket
        self._presign_ttl = settings.presign_ttl_seconds
        credentials: dict[str, Any] = {}
        if settings.s3_access_key_id and settings.s3_secret_access_key:
            credentials = {
                "aws_access_key_id": settings.s3_access_key_id,
                "aws_secret_access_key": settings.s3_secret_access_key.get_secret_value(),
            }
        config = Config(
            signature_version="s3v4",
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            s3={"addressing_style": "path"},
        )
        self._session = boto3.session.Session(region_name=settings.s3_region, **credentials)
        self._config = config
        self._public_endpoint_url = settings.s3_public_endpoint_url or settings.s3_endpoint_url
        self._client: S3Client = self._session.client(
            "s3", endpoint_url=settings.s3_endpoint_url, config=config
        )
        self._presigner: S3Client | None = None
        self._presigner_lock = threading.Lock()  # boto3 sessions build clients one at a time
        # Large files go up in parts; small ones in one PUT. Each part in flight is a
        # buffer in memory: four of 8 MB keep a worker's memory flat on huge exports.
        self._transfer = TransferConfig(
            multipart_threshold=16 * 1024 * 1024,
            multipart_chunksize=8 * 1024 * 1024,
            max_concurrency=4,
        )

    def put_bytes(self, content: bytes, key: str, content_type: str, file_name: str) -> None:
        """Store `content` at `key` in one PUT, with the headers `upload_file` sets."""
        with _storage_errors("upload", key):
            self._client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=content,
                ContentType=content_type,
                ContentDisposition=content_disposition(file_name),
            )

    def upload_file(self, path: Path, key: str, content_type: str, file_name: str) -> None:
        """Upload `path` to `key` with the headers a browser needs to save it well: in one
        PUT below the multipart threshold, else in parts."""
        if path.stat().st_size < self._transfer.multipart_threshold:
            # A transfer manager per upload (its threads, futures and callbacks) costs more
            # than a small report's whole PUT.
            self.put_bytes(path.read_bytes(), key, content_type, file_name)
            return
        with _storage_errors("upload", key):
            self._client.upload_file(
                str(path),
                self.bucket,
                key,
                ExtraArgs={
                    "ContentType": content_type,
                    "ContentDisposition": content_disposition(file_name),
                },
                Config=self._transfer,
            )

    def start_parts(self, key: str, content_type: str, file_name: str) -> str:
        """Begin a multipart upload to `key` (headers as `upload_file` sets them); its id.

        Parts carry CRC32 checksums, declared here and repeated at completion, as boto3's
        own multipart uploads do: S3-compatible stores may refuse a checksum that the
        upload did not declare."""
        with _storage_errors("starting a multipart upload", key):
            started = self._client.create_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                ContentType=content_type,
                ContentDisposition=content_disposition(file_name),
                ChecksumAlgorithm=PART_CHECKSUM,
            )
        return started["UploadId"]

    def upload_part(
        self, key: str, upload_id: str, number: int, *, path: Path, offset: int, length: int
    ) -> UploadedPart:
        """Upload `length` bytes of `path` from `offset` as part `number`. The part is
        read from the file as it is sent, never held in memory whole."""
        with (
            _storage_errors("uploading a part", key),
            ReadFileChunk.from_filename(str(path), offset, length) as body,
        ):
            uploaded = self._client.upload_part(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=body,  # type: ignore[arg-type]  # a file-like slice of the file
                ChecksumAlgorithm=PART_CHECKSUM,
            )
        part: UploadedPart = {"PartNumber": number, "ETag": uploaded["ETag"]}
        if "ChecksumCRC32" in uploaded:
            part["ChecksumCRC32"] = uploaded["ChecksumCRC32"]
        return part

    def complete_parts(self, key: str, upload_id: str, parts: list[UploadedPart]) -> None:
        """Join the uploaded parts, in the order given, into the object."""
        with _storage_errors("completing a multipart upload", key):
            self._client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )

    def abort_parts(self, key: str, upload_id: str) -> None:
        """Drop an unfinished multipart upload's parts. Best effort: a failure is logged.
        A worker killed mid-upload cannot abort at all: the bucket needs a lifecycle rule
        that aborts incomplete multipart uploads (see the README)."""
        try:
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except (BotoCoreError, ClientError) as exc:
            log.warning("aborting a multipart upload failed", extra={"key": key, "error": str(exc)})

    def _public_client(self) -> "S3Client":
        """The client that signs URLs for the public endpoint, built at the first presign
        (workers never presign)."""
        with self._presigner_lock:
            if self._presigner is None:
                self._presigner = self._session.client(
                    "s3", endpoint_url=self._public_endpoint_url, config=self._config
                )
            return self._presigner

    def presign_download(self, key: str, ttl_seconds: int | None = None) -> tuple[str, datetime]:
        """A GET URL for `key`, valid for `ttl_seconds` (by default the configured time),
        and when it expires."""
        ttl = ttl_seconds or self._presign_ttl
        expires_at = datetime.now(UTC) + timedelta(seconds=ttl)
        url = self._public_client().generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=ttl
        )
        return url, expires_at

    def delete(self, key: str) -> None:
        """Remove `key` (absent keys are fine)."""
        try:
            self._client.delete_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            log.warning("delete failed", extra={"key": key, "error": str(exc)})
            raise StorageError("the report file could not be deleted") from None

    def list_page(self, prefix: str, token: str | None = None) -> tuple[list[str], str | None]:
        """One page (up to 1,000) of the keys under `prefix`, and the token of the next page
        (None after the last). One request: callers on an event loop run it in a thread."""
        with _storage_errors("listing", prefix):
            page = (
                self._client.list_objects_v2(
                    Bucket=self.bucket, Prefix=prefix, ContinuationToken=token
                )
                if token
                else self._client.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
            )
        keys = [item["Key"] for item in page.get("Contents", [])]
        return keys, page.get("NextContinuationToken") if page.get("IsTruncated") else None

    def head(self, key: str) -> StoredObject | None:
        """What is stored at `key`, or None if nothing is."""
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            log.warning("head failed", extra={"key": key, "error": str(exc)})
            raise StorageError("the report file could not be looked up") from None
        except BotoCoreError as exc:
            log.warning("head failed", extra={"key": key, "error": str(exc)})
            raise StorageError("the report file could not be looked up") from None
        return StoredObject(
            key=key,
            size_bytes=head["ContentLength"],
            content_type=head.get("ContentType"),
            last_modified=head.get("LastModified"),
            etag=head.get("ETag"),
        )

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (development and tests)."""
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self._client.create_bucket(Bucket=self.bucket)


@contextlib.contextmanager
def _storage_errors(what: str, key: str) -> Iterator[None]:
    """S3 failures as a `StorageError` for users; the detail (it names endpoints and
    buckets) goes to the logs only."""
    try:
        yield
    except (BotoCoreError, ClientError, Boto3Error, OSError) as exc:  # OSError: the local file
        log.warning(f"{what} failed", extra={"key": key, "error": str(exc)})
        raise StorageError("the report file could not be stored") from None
