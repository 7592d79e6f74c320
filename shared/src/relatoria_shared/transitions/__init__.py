"""The one transition service: every state change of a request goes through here.

Each change is one call that writes PostgreSQL (through the caller's repository), then
mirrors the new status document to Redis, then does its messaging (wake a worker, park a
retry, file a dead letter) and counts its metric: `announce.Announcer` does the three
after-write steps for every caller, so whatever must follow a state change (events,
webhooks) hangs off that one place. Callers say what happened; they get a small service
each: `RequestTransitions` (the BFF), `JobTransitions` (a worker's jobs) and
`MaintenanceTransitions` (sweeper, retention, admin).
"""
