"""The gateway's tables, repositories, read queries, session store and unit of work."""
