"""GraphQL slice: reminders."""
