"""How a new request wakes a worker: a PostgreSQL notification on `WAKE_CHANNEL`.

The statement that records a request also sends `NOTIFY relatoria_wake, '<lane>'`, so the
wake-up is delivered only once the request is committed, costs the POST no round trip of
its own and no broker, and cannot be lost between the commit and a publish. Each worker
listens on its liveness session (`db.worker_presence`) and, woken, claims what is due in
the lane. A notification sent while no worker listened is simply not seen: idle workers
still look for due work every `idle_poll_seconds`, as they do for any lost wake-up.

Notifications stay within one database, so deployments (and tests) on separate databases
never wake each other's workers.
"""

WAKE_CHANNEL = "relatoria_wake"
"""The channel's name; the payload is the request's lane (`Lane.value`), or
`WEBHOOKS_WAKE` when a report's end recorded webhook deliveries (migration 0007's
trigger), for the worker's outbox relay."""

WEBHOOKS_WAKE = "webhooks"
