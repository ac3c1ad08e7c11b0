"""GraphQL slice: Web Push subscriptions."""
