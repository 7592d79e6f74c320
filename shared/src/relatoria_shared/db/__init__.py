"""PostgreSQL: the pool, one repository per caller, the schema and its migrations."""
