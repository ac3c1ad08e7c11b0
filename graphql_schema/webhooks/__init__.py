"""GraphQL slice: webhooks."""
