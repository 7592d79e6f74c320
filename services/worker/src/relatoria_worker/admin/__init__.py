"""`relatoria-admin`: operator commands. Every command is safe to run again.

  relatoria-admin queues [--json]
  relatoria-admin inspect <request id> [--json]
  relatoria-admin requeue --id <request id> | --stuck [--older-than SECONDS] | --failed [--type T]
  relatoria-admin dead-letters list
  relatoria-admin dead-letters replay --id ID | --type TYPE | --code ERROR_CODE | --all
  relatoria-admin dead-letters discard --id ID | --type TYPE | --code ERROR_CODE | --all
  relatoria-admin sweep [--json]
  relatoria-admin cleanup [--json]

`queues` shows every queue of the namespace (work queues of both lanes, the retry delay
queues of the current backoff settings, the dead-letter queue): ready messages and
consumers. It only looks (passive declares): a queue that does not exist is reported
absent, never created.

`inspect` shows one request as each store holds it: its PostgreSQL row (every field), its
Redis status document (raw, or absent) and its S3 object (size, type, or absent).

`requeue` puts requests back to work and wakes workers for them. `--id`: a queued
request's workers are woken again (claims are idempotent, so a duplicate is harmless), a
`processing` one whose worker is gone (dead, or its lease expired) is taken back as the
sweeper would, an `error` one is replayed as `dead-letters replay --id` does; `done`,
`expired` and `cancelled` requests are refused, and so is a `processing` one whose worker
is alive. `--stuck`: a sweep that takes back the jobs of dead and silent workers and wakes
workers for `queued` requests not picked up for `--older-than` seconds (600). `--failed`:
every `error` request (of one `--type`), as `dead-letters replay` does.

Listing reads the dead-letter queue without consuming it. Replaying works from
PostgreSQL, the source of truth: it resets the chosen `error` requests to `queued` with a
fresh round of attempts and publishes them (a request whose dead letter never reached the
queue is replayed too). Then every letter whose request is no longer `error` is removed
from the queue. Replaying twice changes nothing more.

`sweep` runs the sweeper once; `cleanup` runs the artifact-retention cleanup once
(deletes the files of reports past `ARTIFACT_RETENTION_SECONDS`, marks them `expired`).
Exit status: 0 done, 1 refused or partly failed, 2 bad usage.
"""

from relatoria_worker.admin.cli import build_parser, main, run

__all__ = ["build_parser", "main", "run"]
