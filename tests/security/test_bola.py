"""Broken object level authorization, exhaustively: every field that reaches an object by id.

The list of such fields is computed from the exported schema (any argument of type ID, directly
or inside an input object, on any object type), so a new id-taking field without a case here
fails `test_every_id_taking_field_has_a_case`. For each, another user's id must be answered
exactly like an id that does not exist (and like one that cannot exist): same data, same error
code, same message once the id itself is blanked, and the owner's objects unchanged.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    build_schema,
)

from tests.conftest import GraphQLClient

pytestmark = pytest.mark.e2e

SCHEMA = Path(__file__).resolve().parents[2] / "graphql_schema" / "schema.graphql"


def _id_paths(kind: GraphQLInputType, path: str, seen: frozenset[str]) -> list[str]:
    """Argument paths under `path` whose type is ID (through lists and input objects)."""
    while isinstance(kind, GraphQLNonNull | GraphQLList):
        kind = kind.of_type
    if isinstance(kind, GraphQLScalarType):
        return [path] if kind.name == "ID" else []
    if isinstance(kind, GraphQLInputObjectType) and kind.name not in seen:
        return [
            found
            for name, field in kind.fields.items()
            for found in _id_paths(field.type, f"{path}.{name}", seen | {kind.name})
        ]
    return []


def id_taking_fields() -> set[str]:
    """Every `Type.field(argument.path)` of the exported schema that takes an id."""
    schema = build_schema(SCHEMA.read_text())
    found = set()
    for type_ in schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for field_name, field in type_.fields.items():
            for arg_name, arg in field.args.items():
                for path in _id_paths(arg.type, arg_name, frozenset()):
                    found.add(f"{type_.name}.{field_name}({path})")
    return found


@dataclass(frozen=True)
class Case:
    """How to call one id-taking field, and which of the owner's objects the id names."""

    kind: str
    operation: str
    # The field's answer to an id nobody owns: an error code, or the data itself.
    expect_code: str | None = None
    expect_data: dict[str, Any] | None = None
    # Other variables of the operation: name -> kind of the world's id it takes.
    extra: tuple[tuple[str, str], ...] = ()


NOT_FOUND = "NOT_FOUND"
CASES: dict[str, Case] = {
    "Query.task(id)": Case(
        "task", "query($id: ID!) { task(id: $id) { id title } }", expect_data={"task": None}
    ),
    "Query.tasks(filter.seriesId)": Case(
        "series",
        "query($id: ID!) { tasks(filter: {seriesId: $id}) { totalCount edges { node { id } } } }",
        expect_data={"tasks": {"totalCount": 0, "edges": []}},
    ),
    "Query.auditLog(taskId)": Case(
        "task",
        "query($id: ID!) { auditLog(taskId: $id) { totalCount edges { node { id action } } } }",
        expect_data={"auditLog": {"totalCount": 0, "edges": []}},
    ),
    "Mutation.updateTask(id)": Case(
        "task",
        'mutation($id: ID!) { updateTask(id: $id, input: {title: "mine"}) { id } }',
        NOT_FOUND,
    ),
    "Mutation.completeTask(id)": Case(
        "task", "mutation($id: ID!) { completeTask(id: $id) { id } }", NOT_FOUND
    ),
    "Mutation.reopenTask(id)": Case(
        "task", "mutation($id: ID!) { reopenTask(id: $id) { id } }", NOT_FOUND
    ),
    "Mutation.deleteTask(id)": Case(
        "task", "mutation($id: ID!) { deleteTask(id: $id) }", NOT_FOUND
    ),
    "Mutation.restoreTask(id)": Case(
        "deleted_task", "mutation($id: ID!) { restoreTask(id: $id) { id } }", NOT_FOUND
    ),
    "Mutation.skipOccurrence(id)": Case(
        "task", "mutation($id: ID!) { skipOccurrence(id: $id) { id } }", NOT_FOUND
    ),
    "Mutation.snoozeReminder(id)": Case(
        "reminder",
        "mutation($id: ID!) { snoozeReminder(id: $id, minutes: 5) { id remindAt } }",
        NOT_FOUND,
    ),
    "Mutation.renameTag(id)": Case(
        "tag", 'mutation($id: ID!) { renameTag(id: $id, name: "mine") { id } }', NOT_FOUND
    ),
    "Mutation.deleteTag(id)": Case("tag", "mutation($id: ID!) { deleteTag(id: $id) }", NOT_FOUND),
    "Mutation.markNotificationRead(id)": Case(
        "notification",
        "mutation($id: ID!) { markNotificationRead(id: $id) { id readAt } }",
        NOT_FOUND,
    ),
    "Mutation.deleteWebhook(id)": Case(
        "webhook", "mutation($id: ID!) { deleteWebhook(id: $id) }", NOT_FOUND
    ),
    "Query.project(id)": Case(
        "project", "query($id: ID!) { project(id: $id) { id name } }", expect_data={"project": None}
    ),
    "Query.projectTags(projectId)": Case(
        "project", "query($id: ID!) { projectTags(projectId: $id) { id name } }", NOT_FOUND
    ),
    "Query.projectInvitations(projectId)": Case(
        "project", "query($id: ID!) { projectInvitations(projectId: $id) { id email } }", NOT_FOUND
    ),
    "Query.auditLogOfProject(projectId)": Case(
        "project",
        "query($id: ID!) { auditLogOfProject(projectId: $id) "
        "{ totalCount edges { node { id } } } }",
        NOT_FOUND,
    ),
    "Query.verifyProjectAuditLog(projectId)": Case(
        "project", "query($id: ID!) { verifyProjectAuditLog(projectId: $id) { ok } }", NOT_FOUND
    ),
    "Query.tasks(filter.projectId)": Case(
        "project",
        "query($id: ID!) { tasks(filter: {projectId: $id}) { totalCount edges { node { id } } } }",
        NOT_FOUND,
    ),
    "Mutation.createTask(input.projectId)": Case(
        "project",
        'mutation($id: ID!) { createTask(input: {title: "mine", projectId: $id}) { id } }',
        NOT_FOUND,
    ),
    "Mutation.updateProject(id)": Case(
        "project", 'mutation($id: ID!) { updateProject(id: $id, name: "mine") { id } }', NOT_FOUND
    ),
    "Mutation.deleteProject(id)": Case(
        "project", "mutation($id: ID!) { deleteProject(id: $id) }", NOT_FOUND
    ),
    "Mutation.inviteToProject(projectId)": Case(
        "project",
        "mutation($id: ID!) { inviteToProject(projectId: $id, email: "
        '"bob-friend@example.com", role: EDITOR) { id } }',
        NOT_FOUND,
    ),
    "Mutation.leaveProject(projectId)": Case(
        "project", "mutation($id: ID!) { leaveProject(projectId: $id) }", NOT_FOUND
    ),
    "Mutation.changeMemberRole(projectId)": Case(
        "project",
        "mutation($id: ID!, $user: ID!) "
        "{ changeMemberRole(projectId: $id, userId: $user, role: VIEWER) { id } }",
        NOT_FOUND,
        extra=(("user", "user"),),
    ),
    "Mutation.removeMember(projectId)": Case(
        "project",
        "mutation($id: ID!, $user: ID!) { removeMember(projectId: $id, userId: $user) { id } }",
        NOT_FOUND,
        extra=(("user", "user"),),
    ),
    # Alice is no member of Bob's own project: her id must read there like nobody's.
    "Mutation.changeMemberRole(userId)": Case(
        "user",
        "mutation($id: ID!, $project: ID!) "
        "{ changeMemberRole(projectId: $project, userId: $id, role: VIEWER) { id } }",
        NOT_FOUND,
        extra=(("project", "bob_project"),),
    ),
    "Mutation.removeMember(userId)": Case(
        "user",
        "mutation($id: ID!, $project: ID!) "
        "{ removeMember(projectId: $project, userId: $id) { id } }",
        NOT_FOUND,
        extra=(("project", "bob_project"),),
    ),
    # People and filters: Alice's id is no assignee of Bob's, and her saved filter is hers.
    "Query.tasks(filter.assigneeId)": Case(
        "user",
        "query($id: ID!) { tasks(filter: {assigneeId: $id}) { totalCount edges { node { id } } } }",
        expect_data={"tasks": {"totalCount": 0, "edges": []}},
    ),
    "Mutation.createTask(input.assigneeId)": Case(
        "user",
        'mutation($id: ID!) { createTask(input: {title: "mine", assigneeId: $id}) { id } }',
        "BAD_USER_INPUT",
    ),
    "Mutation.updateTask(input.assigneeId)": Case(
        "user",
        "mutation($id: ID!, $task: ID!) { updateTask(id: $task, input: {assigneeId: $id}) { id } }",
        "BAD_USER_INPUT",
        extra=(("task", "bob_task"),),
    ),
    "Mutation.deleteSavedFilter(id)": Case(
        "saved_filter", "mutation($id: ID!) { deleteSavedFilter(id: $id) }", NOT_FOUND
    ),
    # Structure (sections, subtasks, moves): Bob reaches for Alice's section or task, or moves
    # his own task into, under or next to something of hers.
    "Query.tasks(filter.sectionId)": Case(
        "section",
        "query($id: ID!) { tasks(filter: {sectionId: $id}) { totalCount edges { node { id } } } }",
        expect_data={"tasks": {"totalCount": 0, "edges": []}},
    ),
    "Query.tasks(filter.parentId)": Case(
        "task",
        "query($id: ID!) { tasks(filter: {parentId: $id}) { totalCount edges { node { id } } } }",
        expect_data={"tasks": {"totalCount": 0, "edges": []}},
    ),
    "Mutation.createTask(input.sectionId)": Case(
        "section",
        'mutation($id: ID!) { createTask(input: {title: "mine", sectionId: $id}) { id } }',
        NOT_FOUND,
    ),
    "Mutation.createTask(input.parentId)": Case(
        "task",
        'mutation($id: ID!) { createTask(input: {title: "mine", parentId: $id}) { id } }',
        NOT_FOUND,
    ),
    "Mutation.createSection(projectId)": Case(
        "project",
        'mutation($id: ID!) { createSection(projectId: $id, name: "mine") { id } }',
        NOT_FOUND,
    ),
    "Mutation.renameSection(id)": Case(
        "section", 'mutation($id: ID!) { renameSection(id: $id, name: "mine") { id } }', NOT_FOUND
    ),
    "Mutation.deleteSection(id)": Case(
        "section", "mutation($id: ID!) { deleteSection(id: $id) }", NOT_FOUND
    ),
    "Mutation.moveTask(id)": Case(
        "task", "mutation($id: ID!) { moveTask(id: $id, toTopLevel: true) { id } }", NOT_FOUND
    ),
    "Mutation.moveTask(projectId)": Case(
        "project",
        "mutation($id: ID!, $own: ID!) { moveTask(id: $own, projectId: $id) { id } }",
        NOT_FOUND,
        extra=(("own", "bob_task"),),
    ),
    "Mutation.moveTask(sectionId)": Case(
        "section",
        "mutation($id: ID!, $own: ID!) { moveTask(id: $own, sectionId: $id) { id } }",
        NOT_FOUND,
        extra=(("own", "bob_task"),),
    ),
    "Mutation.moveTask(parentId)": Case(
        "task",
        "mutation($id: ID!, $own: ID!) { moveTask(id: $own, parentId: $id) { id } }",
        NOT_FOUND,
        extra=(("own", "bob_task"),),
    ),
    "Mutation.moveTask(afterId)": Case(
        "task",
        "mutation($id: ID!, $own: ID!) { moveTask(id: $own, afterId: $id) { id } }",
        NOT_FOUND,
        extra=(("own", "bob_task"),),
    ),
    "Mutation.moveTask(beforeId)": Case(
        "task",
        "mutation($id: ID!, $own: ID!) { moveTask(id: $own, beforeId: $id) { id } }",
        NOT_FOUND,
        extra=(("own", "bob_task"),),
    ),
    "Mutation.moveProject(id)": Case(
        "project", "mutation($id: ID!) { moveProject(id: $id) { id } }", NOT_FOUND
    ),
    "Mutation.moveProject(afterId)": Case(
        "project",
        "mutation($id: ID!, $own: ID!) { moveProject(id: $own, afterId: $id) { id } }",
        NOT_FOUND,
        extra=(("own", "bob_project"),),
    ),
    "Mutation.moveProject(beforeId)": Case(
        "project",
        "mutation($id: ID!, $own: ID!) { moveProject(id: $own, beforeId: $id) { id } }",
        NOT_FOUND,
        extra=(("own", "bob_project"),),
    ),
    # An invitation Alice sent to someone else: Bob can neither answer nor revoke it.
    "Mutation.acceptInvitation(id)": Case(
        "invitation", "mutation($id: ID!) { acceptInvitation(id: $id) { id } }", NOT_FOUND
    ),
    "Mutation.declineInvitation(id)": Case(
        "invitation", "mutation($id: ID!) { declineInvitation(id: $id) { id } }", NOT_FOUND
    ),
    "Mutation.revokeInvitation(id)": Case(
        "invitation", "mutation($id: ID!) { revokeInvitation(id: $id) { id } }", NOT_FOUND
    ),
}

# Everything of the owner's that a foreign call could disturb, read back after every attempt.
OWNER_STATE = """
query($id: ID!) {
  task(id: $id) {
    title notes status version dueAt recurrence { rule skipped }
    tags { id name } reminders { id remindAt state }
  }
  tags { id name openTaskCount }
  webhooks { id url }
  notifications { totalCount edges { node { id readAt } } }
  projects { id name version sections { id name position } }
  savedFilters { id name filter }
  sectioned: tasks(filter: {inbox: false}) { edges { node { id version position } } }
}
"""


def test_every_id_taking_field_has_a_case() -> None:
    fields = id_taking_fields()
    assert fields == set(CASES), (
        f"fields without a BOLA case: {sorted(fields - set(CASES))}; "
        f"cases for fields that are gone: {sorted(set(CASES) - fields)}"
    )
    # Subscriptions take no id today; if one ever does it is in `fields` and needs a case.
    assert not any(name.startswith("Subscription.") for name in CASES)


@dataclass
class World:
    """Alice owns one of everything; Bob tries to reach it."""

    alice: GraphQLClient
    bob: GraphQLClient
    ids: dict[str, str]


async def _eventually(check: Any, seconds: float = 6.0) -> Any:
    async with asyncio.timeout(seconds):
        while not (found := await check()):
            await asyncio.sleep(0.05)
        return found


@pytest.fixture(scope="module")
async def world(whole: httpx.AsyncClient) -> World:
    """Alice's task (recurring, tagged, with reminders), webhook, notification and audit trail."""
    alice, bob = GraphQLClient(whole), GraphQLClient(whole)
    await alice.sign_up()
    await bob.sign_up()
    soon = (datetime.now(UTC) + timedelta(seconds=0.3)).isoformat()
    task = (
        await alice.data(
            'mutation($soon: DateTime!) { createTask(input: {title: "secret plan", '
            'notes: "n", tags: ["private"], dueAt: "2030-01-01T00:00:00Z", '
            'recurrence: {rule: "FREQ=DAILY"}, reminders: [{beforeDue: 5}, '
            "{remindAt: $soon, channels: [IN_APP]}]}) "
            "{ id seriesId tags { id } reminders { id } } }",
            {"soon": soon},
        )
    )["createTask"]
    hook = (
        await alice.data(
            'mutation { registerWebhook(url: "https://93.184.215.14/h") { webhook { id } } }'
        )
    )["registerWebhook"]["webhook"]

    async def notification() -> str | None:
        page = (await alice.data("{ notifications { edges { node { id } } } }"))["notifications"]
        return page["edges"][0]["node"]["id"] if page["edges"] else None

    async def audited() -> bool:
        log = await alice.data(
            "query($id: ID!) { auditLog(taskId: $id) { totalCount } }", {"id": task["id"]}
        )
        return bool(log["auditLog"]["totalCount"] >= 1)

    project = (await alice.data('mutation { createProject(name: "alice only") { id } }'))[
        "createProject"
    ]
    invitation = (
        await alice.data(
            "mutation($id: ID!) { inviteToProject(projectId: $id, "
            'email: "carol-bola@example.com", role: EDITOR) { id } }',
            {"id": project["id"]},
        )
    )["inviteToProject"]
    bob_project = (await bob.data('mutation { createProject(name: "bob own") { id } }'))[
        "createProject"
    ]
    section = (
        await alice.data(
            'mutation($id: ID!) { createSection(projectId: $id, name: "alice only") { id } }',
            {"id": project["id"]},
        )
    )["createSection"]
    await alice.data(
        'mutation($s: ID!) { createTask(input: {title: "in section", sectionId: $s}) { id } }',
        {"s": section["id"]},
    )
    bob_task = (await bob.data('mutation { createTask(input: {title: "bob own"}) { id } }'))[
        "createTask"
    ]
    alice_id = (await alice.data("{ me { id } }"))["me"]["id"]
    # Deleted just now: within the restore window, restorable by Alice alone.
    deleted = (await alice.data('mutation { createTask(input: {title: "regret"}) { id } }'))[
        "createTask"
    ]
    await alice.data("mutation($id: ID!) { deleteTask(id: $id) }", {"id": deleted["id"]})
    saved = (
        await alice.data('mutation { saveFilter(name: "mine", filter: {inbox: true}) { id } }')
    )["saveFilter"]
    ids = {
        "saved_filter": saved["id"],
        "bob_task": bob_task["id"],
        "project": project["id"],
        "invitation": invitation["id"],
        "bob_project": bob_project["id"],
        "section": section["id"],
        "user": alice_id,
        "task": task["id"],
        "deleted_task": deleted["id"],
        "series": task["seriesId"],
        "tag": task["tags"][0]["id"],
        "reminder": task["reminders"][0]["id"],
        "webhook": hook["id"],
        "notification": await _eventually(notification),
    }
    await _eventually(audited)
    return World(alice, bob, ids)


async def test_the_owner_reaches_every_object_the_cases_use(world: World) -> None:
    # The positive control: each id is real and reachable by its owner, so "not found" for Bob
    # below is the authorization check speaking, not a typo in the fixture.
    ids = world.ids
    state = await world.alice.data(OWNER_STATE, {"id": ids["task"]})
    assert state["task"]["title"] == "secret plan"
    assert ids["tag"] in {t["id"] for t in state["tags"]}
    assert ids["reminder"] in {r["id"] for r in state["task"]["reminders"]}
    assert [w["id"] for w in state["webhooks"]] == [ids["webhook"]]
    assert [f["id"] for f in state["savedFilters"]] == [ids["saved_filter"]]
    assert [e["node"]["id"] for e in state["notifications"]["edges"]] == [ids["notification"]]
    series = await world.alice.data(
        CASES["Query.tasks(filter.seriesId)"].operation, {"id": ids["series"]}
    )
    assert series["tasks"]["totalCount"] == 1
    audit = await world.alice.data(CASES["Query.auditLog(taskId)"].operation, {"id": ids["task"]})
    assert audit["auditLog"]["totalCount"] >= 1


def _blank(body: dict[str, Any], id_: str) -> Any:
    """The response with the id it was asked about replaced by a placeholder."""
    return json.loads(json.dumps(body).replace(id_, "<ID>"))


@pytest.mark.parametrize("field", sorted(CASES))
async def test_another_users_id_is_answered_exactly_like_a_missing_one(
    world: World, field: str
) -> None:
    case = CASES[field]
    foreign_id = world.ids[case.kind]
    before = await world.alice.data(OWNER_STATE, {"id": world.ids["task"]})

    answers = {}
    for label, id_ in (
        ("foreign", foreign_id),
        ("missing", str(uuid.uuid4())),
        ("malformed", "not-an-id-" + uuid.uuid4().hex[:6]),
    ):
        variables = {"id": id_, **{name: world.ids[kind] for name, kind in case.extra}}
        answers[label] = _blank(await world.bob.execute(case.operation, variables), id_)
    assert answers["foreign"] == answers["missing"] == answers["malformed"], answers

    foreign = answers["foreign"]
    if case.expect_code is not None:
        assert foreign["data"] is None
        assert [e["extensions"]["code"] for e in foreign["errors"]] == [case.expect_code]
    else:
        assert "errors" not in foreign
        assert foreign["data"] == case.expect_data
    # Nothing of Alice's changed.
    assert await world.alice.data(OWNER_STATE, {"id": world.ids["task"]}) == before


async def test_bobs_restores_left_alices_deleted_task_restorable_by_her(world: World) -> None:
    # Runs after the cases above: Bob's restoreTask attempts took nothing from the tombstone.
    restored = await world.alice.data(
        "mutation($id: ID!) { restoreTask(id: $id) { id title } }",
        {"id": world.ids["deleted_task"]},
    )
    assert restored["restoreTask"] == {"id": world.ids["deleted_task"], "title": "regret"}
