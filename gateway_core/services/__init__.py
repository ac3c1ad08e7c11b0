"""Application services: one keyword-only function per use case, over a unit of work."""
