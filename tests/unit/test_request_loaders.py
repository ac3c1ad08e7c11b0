"""A request's DataLoaders are freed when the request ends, without the cyclic collector."""

from __future__ import annotations

import gc
import uuid
import weakref
from typing import cast

from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_schema.context import Loaders

LOADERS = (
    "project_by_id",
    "open_count_by_project",
    "tags_by_task",
    "reminders_by_task",
    "open_count_by_tag",
    "sections_by_project",
    "section_by_id",
    "visible_task_by_id",
    "subtasks_by_parent",
    "user_by_id",
)


def test_every_loader_is_made_once_on_first_use() -> None:
    loaders = Loaders(cast(AsyncEngine, object()), uuid.uuid4())
    assert not any(name in vars(loaders) for name in LOADERS)
    for name in LOADERS:
        assert getattr(loaders, name) is getattr(loaders, name)


def test_used_loaders_are_freed_by_reference_counting_alone() -> None:
    # A loader whose batch function pointed back at its Loaders made a cycle per request (and
    # per live event): nothing of it was freed until the cyclic collector ran.
    gc.disable()
    try:
        loaders = Loaders(cast(AsyncEngine, object()), uuid.uuid4())
        used = [getattr(loaders, name) for name in LOADERS]
        gone = weakref.ref(loaders)
        first = weakref.ref(used[0])
        del loaders, used
        assert gone() is None
        assert first() is None
    finally:
        gc.enable()
