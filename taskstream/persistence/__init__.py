"""Persistence helpers every service shares: engine and pool, outbox, pruning, keyset cursors."""
