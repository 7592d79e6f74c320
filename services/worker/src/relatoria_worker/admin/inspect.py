"""`relatoria-admin inspect`: one request as PostgreSQL, Redis and S3 each hold it."""

import asyncio
import json
import uuid
from typing import Any

from redis.exceptions import RedisError

from relatoria_shared.domain.errors import StorageError
from relatoria_worker.admin.context import Admin


async def inspect_request(admin: Admin, request_id: uuid.UUID) -> dict[str, Any]:
    """The request as PostgreSQL, Redis and S3 each hold it (None where absent)."""
    row = await admin.repository.row(request_id)
    record = await admin.repository.get(request_id)
    redis = admin.connections.redis
    cache_key = admin.connections.cache.key(request_id)
    cache: dict[str, Any] = {"key": cache_key}
    try:
        version, raw = await redis.hmget(cache_key, ("version", "doc"))
        cache["document"] = None if raw is None else json.loads(raw)
        cache["version"] = None if version is None else int(version)
        cache["ttlSeconds"] = None if raw is None else await redis.ttl(cache_key)
    except RedisError as exc:
        cache["error"] = f"Redis unavailable: {exc}"
    stored: dict[str, Any] = {}
    if record is not None and record.artifact is not None:  # the recorded file
        key = record.artifact.object_key
        store = admin.connections.store
        stored = {"bucket": store.bucket, "key": key}
        try:
            head = await asyncio.to_thread(store.head, key)
        except StorageError as exc:
            stored["error"] = str(exc)
        else:
            stored["exists"] = head is not None
            if head is not None:
                stored |= {
                    "sizeBytes": head.size_bytes,
                    "contentType": head.content_type,
                    "lastModified": head.last_modified,
                    "etag": head.etag,
                }
    return {
        "requestId": str(request_id),
        "database": row,
        "cache": cache,
        "object": stored or None,
    }


PARAMETERS_SHOWN = 2_000


def print_inspection(found: dict[str, Any]) -> None:
    print(f"request {found['requestId']}")
    row = found["database"]
    print("\nPostgreSQL (report_requests):")
    if row is None:
        print("  absent")
    else:
        for name, value in row.items():
            shown = json.dumps(value, default=str, ensure_ascii=False)
            if name == "parameters" and len(shown) > PARAMETERS_SHOWN:
                more = len(shown) - PARAMETERS_SHOWN
                shown = f"{shown[:PARAMETERS_SHOWN]}… ({more} more characters; --json for all)"
            print(f"  {name}: {shown}")
    cache = found["cache"]
    print(f"\nRedis ({cache['key']}):")
    if "error" in cache:
        print(f"  {cache['error']}")
    elif cache["document"] is None:
        print("  absent")
    else:
        print(f"  ttl: {cache['ttlSeconds']} s")
        print(f"  {json.dumps(cache['document'], ensure_ascii=False)}")
    stored = found["object"]
    print("\nS3:")
    if stored is None:
        print("  (no file recorded)")
    elif "error" in stored:
        print(f"  s3://{stored['bucket']}/{stored['key']}: {stored['error']}")
    elif not stored["exists"]:
        print(f"  s3://{stored['bucket']}/{stored['key']}: absent")
    else:
        print(
            f"  s3://{stored['bucket']}/{stored['key']}: {stored['sizeBytes']} bytes, "
            f"{stored['contentType']}, last modified {stored['lastModified']}"
        )
