"""Report types that read their rows from the reporting database."""
