"""PostgreSQL: the schema, the engine factory, the repository and the migrations."""
