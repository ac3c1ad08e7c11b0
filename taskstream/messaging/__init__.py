"""Event contracts (CloudEvents) and the transports that carry them."""
