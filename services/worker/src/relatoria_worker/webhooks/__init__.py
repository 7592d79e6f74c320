"""Webhook delivery: the outbox relay, the delivery consumer and the HTTP sender."""
