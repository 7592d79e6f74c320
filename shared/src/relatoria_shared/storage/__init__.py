"""S3: the object store for artifacts."""
