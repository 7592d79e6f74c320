"""Redis: the status cache."""
