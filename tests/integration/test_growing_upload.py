"""Uploading a file while it is written, against a moto S3 server over HTTP: the object
is exactly the file, whole parts leave while the writer is still going, and an upload
left unfinished leaves neither an object nor parts behind."""

import hashlib
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from relatoria_shared.domain.errors import StorageError
from relatoria_shared.settings import Settings
from relatoria_shared.storage.object_store import ObjectStore, UploadedPart
from relatoria_worker.growing_upload import GrowingFileUpload

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
PART = 5 * MIB  # S3's (and moto's) smallest part but the last


def _client(settings: Settings):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=settings.s3_region,
    )


class _CountingStore(ObjectStore):
    """The real store, counting the parts it is asked to upload; the second part waits
    until `gate` is set, so a test can act while it is in flight."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.parts_requested = 0
        self.gate = threading.Event()

    def upload_part(self, *args: Any, **kwargs: Any) -> UploadedPart:
        self.parts_requested += 1
        if self.parts_requested == 2:
            self.gate.wait(10)
        return super().upload_part(*args, **kwargs)


def _upload(
    settings: Settings, path: Path, key: str, store: ObjectStore | None = None
) -> GrowingFileUpload:
    return GrowingFileUpload(
        store or ObjectStore(settings),
        path,
        key,
        content_type="text/csv; charset=utf-8",
        file_name="Transações.csv",
        part_bytes=PART,
    )


@pytest.fixture
def target(tmp_path: Path) -> tuple[str, Path]:
    """A fresh object key, and the empty file to be uploaded to it."""
    path = tmp_path / "report.csv"
    path.touch()
    return f"tests/{uuid.uuid4()}.csv", path


def test_the_object_is_the_file_and_parts_leave_while_it_is_written(
    settings: Settings, target: tuple[str, Path]
) -> None:
    key, path = target
    chunks = [os.urandom(MIB) for _ in range(13)]  # two whole parts and a 3 MiB tail
    client = _client(settings)

    with _upload(settings, path, key) as upload:
        with path.open("ab") as handle:
            for chunk in chunks[:-1]:
                handle.write(chunk)
                handle.flush()
            # Both whole parts go up while the writer still has its last chunk to write.
            assert _wait_for_parts(client, settings.s3_bucket, key, 2) == 2
            handle.write(chunks[-1])
        upload.finish()

    body = client.get_object(Bucket=settings.s3_bucket, Key=key)
    data = body["Body"].read()
    assert hashlib.sha256(data).digest() == hashlib.sha256(b"".join(chunks)).digest()
    assert body["ContentType"] == "text/csv; charset=utf-8"
    assert "Transa%C3%A7%C3%B5es.csv" in body["ContentDisposition"]


def test_the_file_may_appear_after_the_upload_has_begun(
    settings: Settings, target: tuple[str, Path]
) -> None:
    key, path = target
    path.unlink()
    data = os.urandom(PART + MIB)
    with _upload(settings, path, key) as upload:
        time.sleep(0.2)  # the follower looks for the file before the writer creates it
        path.write_bytes(data)
        upload.finish()

    client = _client(settings)
    assert client.get_object(Bucket=settings.s3_bucket, Key=key)["Body"].read() == data


def test_a_file_smaller_than_a_part_goes_up_in_one_request(
    settings: Settings, target: tuple[str, Path]
) -> None:
    key, path = target
    path.write_bytes(b"a,b\r\n1,2\r\n")
    store = _CountingStore(settings)
    with _upload(settings, path, key, store) as upload:
        upload.finish()

    client = _client(settings)
    assert client.get_object(Bucket=settings.s3_bucket, Key=key)["Body"].read() == path.read_bytes()
    assert _uploads_in_progress(client, settings.s3_bucket, key) == []
    assert store.parts_requested == 0  # a plain PUT, not a multipart upload


def test_leaving_without_finishing_drops_the_parts_and_makes_no_object(
    settings: Settings, target: tuple[str, Path]
) -> None:
    key, path = target
    client = _client(settings)

    def render_that_fails() -> None:
        with _upload(settings, path, key):
            path.write_bytes(os.urandom(2 * PART + MIB))
            assert _wait_for_parts(client, settings.s3_bucket, key, 2) == 2
            raise RuntimeError("render failed")

    with pytest.raises(RuntimeError, match="render failed"):
        render_that_fails()

    assert _uploads_in_progress(client, settings.s3_bucket, key) == []
    assert "Contents" not in client.list_objects_v2(Bucket=settings.s3_bucket, Prefix=key)


def test_leaving_early_sends_no_more_parts_than_the_one_in_flight(
    settings: Settings, target: tuple[str, Path]
) -> None:
    key, path = target
    store = _CountingStore(settings)
    client = _client(settings)

    def render_that_fails() -> None:
        with _upload(settings, path, key, store):
            path.write_bytes(os.urandom(4 * PART))  # four parts waiting at once
            deadline = time.monotonic() + 10
            while store.parts_requested < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            threading.Timer(0.3, store.gate.set).start()  # part 2 lands after we leave
            raise RuntimeError("render failed")

    with pytest.raises(RuntimeError, match="render failed"):
        render_that_fails()

    assert store.parts_requested == 2  # the one in flight finished; the rest never left
    assert _uploads_in_progress(client, settings.s3_bucket, key) == []


def test_a_failed_part_is_heard_of_while_the_file_is_still_being_written(
    settings: Settings, target: tuple[str, Path]
) -> None:
    key, path = target
    broken = settings.model_copy(update={"s3_bucket": f"missing-{uuid.uuid4().hex[:8]}"})

    def render_until_told() -> None:
        with _upload(broken, path, key) as upload:
            path.write_bytes(os.urandom(PART + MIB))
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                upload.check()  # what the render calls every few rows
                time.sleep(0.05)

    started = time.monotonic()
    with pytest.raises(StorageError):
        render_until_told()
    assert time.monotonic() - started < 10


def test_a_part_that_cannot_be_stored_fails_the_finish_as_a_storage_error(
    settings: Settings, target: tuple[str, Path]
) -> None:
    key, path = target
    broken = settings.model_copy(update={"s3_bucket": f"missing-{uuid.uuid4().hex[:8]}"})

    def render_and_finish() -> None:
        with _upload(broken, path, key) as upload:
            path.write_bytes(os.urandom(PART + MIB))
            time.sleep(0.5)  # the follower tries the first part and fails
            upload.finish()

    with pytest.raises(StorageError):
        render_and_finish()


def _uploads_in_progress(client, bucket: str, key: str) -> list[str]:  # type: ignore[no-untyped-def]
    listed = client.list_multipart_uploads(Bucket=bucket, Prefix=key)
    return [u["UploadId"] for u in listed.get("Uploads", [])]


def _parts_held(client, bucket: str, key: str) -> int:  # type: ignore[no-untyped-def]
    uploads = _uploads_in_progress(client, bucket, key)
    if not uploads:
        return 0
    return len(client.list_parts(Bucket=bucket, Key=key, UploadId=uploads[0]).get("Parts", []))


def _wait_for_parts(client, bucket: str, key: str, count: int) -> int:  # type: ignore[no-untyped-def]
    """How many parts S3 holds once it holds `count`, or after 10 seconds."""
    deadline = time.monotonic() + 10
    while (held := _parts_held(client, bucket, key)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return held
