"""PostgreSQL persistence: tables, engine, unit of work, repositories, embedded server."""
