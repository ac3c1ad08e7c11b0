"""The public GraphQL schema, sliced by feature (auth, tasks, tags, reminders, ...)."""
