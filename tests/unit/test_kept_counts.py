"""Which lists' `totalCount` is added up from the kept counts, and which is counted."""

from __future__ import annotations

import uuid

import pytest

from gateway_core.domain.model import Priority, TaskStatus
from gateway_core.persistence.reads import TaskQuery, kept_count

KEPT = {
    "everything": TaskQuery(),
    "open (the web app's default list)": TaskQuery(status=TaskStatus.OPEN),
    "one project's top-level tasks (the board)": TaskQuery(project_id=uuid.uuid4(), top_level=True),
    "the personal space's done subtasks": TaskQuery(
        inbox=True, status=TaskStatus.DONE, top_level=False
    ),
    "a search text without words": TaskQuery(text="  ", inbox=False),
}

COUNTED = {
    "a word": TaskQuery(text="report", status=TaskStatus.OPEN),
    "a priority": TaskQuery(priorities=[Priority.HIGH]),
    "no priority at all": TaskQuery(priorities=[]),
    "no tag at all": TaskQuery(any_tags=[]),
    "assigned to me": TaskQuery(assigned_to_me=True),
    "not assigned to me": TaskQuery(assigned_to_me=False),
    "one section": TaskQuery(section_id=uuid.uuid4()),
    "one task's subtasks": TaskQuery(parent_id=uuid.uuid4()),
    "overdue": TaskQuery(overdue=False),
    "recurring": TaskQuery(recurring=True),
}


@pytest.mark.parametrize("name", list(KEPT))
def test_lists_filtered_by_scope_status_and_level_are_kept(name: str) -> None:
    assert kept_count(KEPT[name])


@pytest.mark.parametrize("name", list(COUNTED))
def test_lists_with_any_other_filter_are_counted(name: str) -> None:
    assert not kept_count(COUNTED[name])
