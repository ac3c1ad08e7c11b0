"""The recurrence service's own tables (schema `recurrence`)."""

from __future__ import annotations

from sqlalchemy import MetaData

from taskstream.messaging.consumer import processed_events_table

metadata = MetaData(schema="recurrence")
processed_events = processed_events_table(metadata)
