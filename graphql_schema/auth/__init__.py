"""GraphQL slice: auth."""
