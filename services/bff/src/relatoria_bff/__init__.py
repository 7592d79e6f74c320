"""relatoria's BFF: the HTTP API frontends talk to."""
