"""What services agree on: event types, a task's wire shape, internal API models and clients."""
