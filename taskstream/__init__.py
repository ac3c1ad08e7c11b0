"""Taskstream: an event-driven, multi-user task manager (shared kernel)."""

__version__ = "0.1.0"
