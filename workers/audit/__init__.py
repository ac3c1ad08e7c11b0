"""The audit service: an append-only, hash-chained trail per user, retention, compliance report."""
