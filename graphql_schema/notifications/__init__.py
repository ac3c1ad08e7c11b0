"""GraphQL slice: notifications."""
