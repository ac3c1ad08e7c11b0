"""The Project aggregate's rules: who may do what, and the last-owner rule."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from gateway_core.domain.projects import (
    MEMBERS_MAX,
    MemberAdded,
    MemberChanged,
    MemberRemoved,
    Project,
    ProjectCreated,
    ProjectDeleted,
    Role,
    clean_color,
)
from gateway_core.wire import project_event
from taskstream.errors import Conflict, Forbidden, InvalidInput, NotFound

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


def project_with(*roles: Role) -> tuple[Project, list[uuid.UUID]]:
    """A project whose owner is followed by members in the given roles."""
    owner = uuid.uuid4()
    project = Project.create(owner_id=owner, name=" Launch  plan ", color=None, now=NOW)
    ids = [owner]
    for role in roles:
        member = uuid.uuid4()
        project.add_member(user_id=member, role=role, now=NOW)
        ids.append(member)
    project.events.clear()
    return project, ids


def test_create_cleans_the_name_and_raises_created_and_member_added() -> None:
    owner = uuid.uuid4()
    project = Project.create(owner_id=owner, name=" Launch  plan ", color="#ABCDEF", now=NOW)
    assert project.name == "Launch plan"
    assert project.color == "#abcdef"
    assert [type(e) for e in project.events] == [ProjectCreated, MemberAdded]
    assert project.role_of(owner) is Role.OWNER


def test_require_is_not_found_for_strangers_and_forbidden_below_the_role() -> None:
    project, (owner, editor, viewer) = project_with(Role.EDITOR, Role.VIEWER)
    with pytest.raises(NotFound):
        project.require(uuid.uuid4(), Role.VIEWER)
    with pytest.raises(Forbidden):
        project.require(viewer, Role.EDITOR)
    with pytest.raises(Forbidden):
        project.require(editor, Role.OWNER)
    assert project.require(owner, Role.EDITOR) is Role.OWNER


@pytest.mark.parametrize(
    ("name", "color", "field"),
    [("", None, "name"), ("x" * 101, None, "name"), ("ok", "#12345", "color")],
)
def test_bad_settings_name_their_field(name: str, color: str | None, field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        Project.create(owner_id=uuid.uuid4(), name=name, color=color, now=NOW)
    assert raised.value.field == field


def test_empty_color_means_none() -> None:
    assert clean_color("") is None


def test_the_last_owner_cannot_be_demoted_removed_or_leave_while_others_remain() -> None:
    project, (owner, editor) = project_with(Role.EDITOR)
    with pytest.raises(Conflict):
        project.change_role(actor_id=owner, user_id=owner, role=Role.EDITOR, now=NOW)
    with pytest.raises(Conflict):
        project.leave(user_id=owner, now=NOW)
    assert project.events == []
    project.change_role(actor_id=owner, user_id=editor, role=Role.OWNER, now=NOW)
    project.leave(user_id=owner, now=NOW)
    assert [type(e) for e in project.events] == [MemberChanged, MemberRemoved]
    assert project.owners() == [editor]


def test_the_last_member_leaving_deletes_the_project() -> None:
    project, (owner,) = project_with()
    project.leave(user_id=owner, now=NOW)
    assert project.deleted
    deleted = project.events[-1]
    assert isinstance(deleted, ProjectDeleted) and deleted.member_ids == (owner,)


def test_members_are_bounded() -> None:
    project, _ = project_with(*[Role.VIEWER] * (MEMBERS_MAX - 1))
    with pytest.raises(Conflict):
        project.add_member(user_id=uuid.uuid4(), role=Role.VIEWER, now=NOW)


def test_every_change_bumps_the_version_and_maps_to_its_wire_model() -> None:
    project, (owner, editor) = project_with(Role.EDITOR)
    start = project.version
    project.change_role(actor_id=owner, user_id=editor, role=Role.VIEWER, now=NOW)
    project.remove_member(actor_id=owner, user_id=editor, now=NOW)
    assert [e.version for e in project.events] == [start + 1, start + 2]
    wire = [project_event(e) for e in project.events]
    assert [w.TYPE for w in wire] == [
        "taskstream.project.member.changed.v1",
        "taskstream.project.member.removed.v1",
    ]
    assert all(w.partition_key() == str(project.id) for w in wire)
