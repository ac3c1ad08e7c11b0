"""GraphQL slice: audit."""
