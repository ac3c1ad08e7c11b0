"""Saved filters: a user's named TaskFilter and ordering."""
