"""GraphQL slice: tags."""
