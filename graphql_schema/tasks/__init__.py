"""GraphQL slice: tasks."""
