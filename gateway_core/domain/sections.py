"""Sections of a project and the structure rules of tasks: subtasks and their limits.

A section is a named, ordered part of one project; its changes are the project's changes (they
bump the project's version and go out as project events, so they are serialised with
membership changes by the project's row lock). Deleting a section keeps its tasks: they move
to the project's tasks without a section, after those already there, in their order.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from gateway_core.domain.projects import Project, ProjectChange
from taskstream.errors import InvalidInput

SECTION_NAME_MAX = 100
# Sections a project may have (Project.sections lists them all).
SECTIONS_MAX = 50
# Tasks deleteSection moves in one request (one event each); a fuller section is refused.
SECTION_MOVE_MAX = 1000
# Levels of tasks: a top-level task is level 1, its subtasks level 2, ... (CONTRACT).
DEPTH_MAX = 4
# Direct subtasks of one task (Task.subtasks lists them all; nested lists multiply in the cost
# of a query, so this keeps a page with two levels of subtasks within the budget).
SUBTASKS_MAX = 50
# Tasks in one tree (a top-level task and all its subtasks): what moving, completing or
# deleting a task may touch, one event each.
TREE_MAX = 250


def clean_section_name(name: str) -> str:
    """The name trimmed, or InvalidInput when empty or too long."""
    trimmed = " ".join(name.split())
    if not 1 <= len(trimmed) <= SECTION_NAME_MAX:
        raise InvalidInput("name", f"must be 1 to {SECTION_NAME_MAX} characters after trimming")
    return trimmed


@dataclass(slots=True)
class Section:
    """A named, ordered part of a project."""

    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    position: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SectionChanged(ProjectChange):
    """A section was created, renamed or deleted (`what`); `moved_tasks`: how many tasks a
    deletion moved out of it."""

    section_id: uuid.UUID
    name: str
    position: str
    what: str
    moved_tasks: int = 0


def record_section_change(
    project: Project,
    section: Section,
    *,
    actor_id: uuid.UUID,
    what: str,
    now: datetime,
    moved_tasks: int = 0,
) -> None:
    """Raise the project's event of a section change (the project's version moves too)."""
    project.version += 1
    project.updated_at = now
    project.events.append(
        SectionChanged(
            project.id,
            actor_id,
            project.version,
            now,
            section.id,
            section.name,
            section.position,
            what,
            moved_tasks,
        )
    )
