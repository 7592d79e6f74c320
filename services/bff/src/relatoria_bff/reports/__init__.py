"""Report requests over HTTP: schemas, service functions and routes."""
