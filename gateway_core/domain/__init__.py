"""Domain model: aggregates, value objects, domain events and their rules."""
