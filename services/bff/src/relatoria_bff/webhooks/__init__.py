"""Webhook endpoints, signing secrets and delivery records, as the BFF serves them."""
