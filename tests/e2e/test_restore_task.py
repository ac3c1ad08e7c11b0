"""restoreTask over HTTP: a deleted task comes back with its subtasks, in its place, once,
within the window, for whoever could delete it; while deleted no read shows it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_core.persistence import tables as t
from gateway_core.persistence.uow import UnitOfWork
from gateway_core.services import tasks as service
from taskstream.errors import NotFound
from taskstream.persistence.pruning import delete_older_than
from tests.conftest import GraphQLClient
from tests.e2e.test_projects import create as create_project
from tests.e2e.test_projects import join, new_user

pytestmark = pytest.mark.e2e

TASK = (
    "id title version status priority position tags { name } "
    "reminders { id remindAt beforeDue state } project { id } section { id } parent { id } "
    "assignee { id }"
)
CREATE = (
    "mutation($i: CreateTaskInput!) { createTask(input: $i) { " + TASK + " } }"
)  # fmt: skip
DELETE = "mutation($id: ID!) { deleteTask(id: $id) }"
RESTORE = "mutation($id: ID!) { restoreTask(id: $id) { " + TASK + " } }"
GET = "query($id: ID!) { task(id: $id) { " + TASK + " subtasks { id title position } } }"
WINDOW = timedelta(minutes=10)


async def new_task(client: GraphQLClient, **task: Any) -> dict[str, Any]:
    """A task created with these inputs."""
    created: dict[str, Any] = (await client.data(CREATE, {"i": task}))["createTask"]
    return created


async def delete(client: GraphQLClient, task_id: str) -> None:
    """Delete the task."""
    assert (await client.data(DELETE, {"id": task_id}))["deleteTask"] == task_id


async def restore(client: GraphQLClient, task_id: str) -> dict[str, Any]:
    """The restored task."""
    restored: dict[str, Any] = (await client.data(RESTORE, {"id": task_id}))["restoreTask"]
    return restored


async def code_of_restore(client: GraphQLClient, task_id: str) -> str:
    """The error code of a restore that must fail."""
    error = await client.error(RESTORE, {"id": task_id})
    code: str = error["extensions"]["code"]
    return code


async def events_of(engine: AsyncEngine, task_id: str) -> list[tuple[str, int]]:
    """(type, version) of every outbox event about the task, in order."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(t.outbox.c.type, t.outbox.c.payload["data"]["version"].as_integer())
            .where(t.outbox.c.payload["data"]["taskId"].astext == task_id)
            .order_by(t.outbox.c.position)
        )
        return [(row[0], row[1]) for row in rows]


async def tombstones(engine: AsyncEngine, root_id: str) -> int:
    """How many tombstones the deletion of `root_id` left."""
    async with engine.connect() as connection:
        count = await connection.scalar(
            select(func.count())
            .select_from(t.task_tombstones)
            .where(t.task_tombstones.c.root_id == uuid.UUID(root_id))
        )
    return int(count or 0)


async def test_a_deleted_task_comes_back_with_its_tags_reminders_and_subtasks(
    alice: GraphQLClient, engine: AsyncEngine
) -> None:
    due = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    remind_at = (due - timedelta(hours=3)).isoformat()
    root = await new_task(
        alice,
        title="Plan the trip",
        priority="HIGH",
        tags=["travel", "Home"],
        dueAt=due.isoformat(),
        reminders=[{"beforeDue": 30}, {"remindAt": remind_at, "channels": ["IN_APP"]}],
    )
    first = await new_task(alice, title="Book the train", parentId=root["id"], tags=["travel"])
    second = await new_task(alice, title="Pack", parentId=root["id"])
    deep = await new_task(alice, title="Socks", parentId=second["id"])
    before = {task["id"]: task for task in (root, first, second, deep)}

    await delete(alice, root["id"])
    for task_id in before:
        assert (await alice.data(GET, {"id": task_id}))["task"] is None
    assert await tombstones(engine, root["id"]) == 4

    restored = await restore(alice, root["id"])
    assert restored["id"] == root["id"]
    # One above the deletion's version (which was one above the last seen).
    assert restored["version"] == root["version"] + 2
    assert {k: v for k, v in restored.items() if k != "version"} == {
        k: v for k, v in root.items() if k != "version"
    }
    assert [r["state"] for r in restored["reminders"]] == ["SCHEDULED", "SCHEDULED"]
    again = (await alice.data(GET, {"id": root["id"]}))["task"]
    assert [(s["id"], s["position"]) for s in again["subtasks"]] == [
        (first["id"], first["position"]),
        (second["id"], second["position"]),
    ]
    for task_id, was in before.items():
        now = (await alice.data(GET, {"id": task_id}))["task"]
        assert now["version"] == was["version"] + 2
        assert now["tags"] == was["tags"] and now["parent"] == was["parent"]
        assert now["position"] == was["position"]
        types = await events_of(engine, task_id)
        assert types[-2:] == [
            ("taskstream.task.deleted.v1", was["version"] + 1),
            ("taskstream.task.restored.v1", was["version"] + 2),
        ]
    assert await tombstones(engine, root["id"]) == 0


async def test_a_second_restore_is_a_conflict_and_of_two_at_once_one_wins(
    alice: GraphQLClient, engine: AsyncEngine
) -> None:
    task = await new_task(alice, title="Once")
    await delete(alice, task["id"])
    answers = await asyncio.gather(
        alice.execute(RESTORE, {"id": task["id"]}), alice.execute(RESTORE, {"id": task["id"]})
    )
    won = [a for a in answers if "errors" not in a]
    lost = [a for a in answers if "errors" in a]
    assert len(won) == 1 and len(lost) == 1, answers
    assert lost[0]["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert "id" in lost[0]["errors"][0]["message"]
    assert await code_of_restore(alice, task["id"]) == "CONFLICT"
    kinds = [kind for kind, _ in await events_of(engine, task["id"])]
    assert kinds.count("taskstream.task.restored.v1") == 1
    # A subtask deleted with its parent comes back with it only, not on its own.
    parent = await new_task(alice, title="Parent")
    child = await new_task(alice, title="Child", parentId=parent["id"])
    await delete(alice, parent["id"])
    assert await code_of_restore(alice, child["id"]) == "NOT_FOUND"
    assert await code_of_restore(alice, str(uuid.uuid4())) == "NOT_FOUND"


async def test_past_the_window_it_is_not_found_and_the_pruning_purges_it(
    alice: GraphQLClient, engine: AsyncEngine
) -> None:
    old = await new_task(alice, title="Long gone")
    fresh = await new_task(alice, title="Just gone")
    await delete(alice, old["id"])
    await delete(alice, fresh["id"])
    # As if the deletion had happened a second past the window.
    async with engine.begin() as connection:
        await connection.execute(
            update(t.task_tombstones)
            .where(t.task_tombstones.c.root_id == uuid.UUID(old["id"]))
            .values(deleted_at=func.now() - WINDOW - timedelta(seconds=1))
        )
    assert await code_of_restore(alice, old["id"]) == "NOT_FOUND"
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        removed = await delete_older_than(connection, t.task_tombstones.c.deleted_at, WINDOW)
    assert removed >= 1
    assert await tombstones(engine, old["id"]) == 0
    assert await tombstones(engine, fresh["id"]) == 1
    assert (await restore(alice, fresh["id"]))["title"] == "Just gone"


async def test_only_who_could_delete_it_may_restore_it(http: httpx.AsyncClient) -> None:
    alice, _ = await new_user(http)
    bob, b = await new_user(http)
    viewer, v = await new_user(http)
    project = await create_project(alice)
    await join(alice, bob, project["id"], b["email"], "EDITOR")
    await join(alice, viewer, project["id"], v["email"], "VIEWER")
    personal = await new_task(alice, title="Mine")
    shared = await new_task(alice, title="Ours", projectId=project["id"], assigneeId=b["id"])
    await delete(alice, personal["id"])
    await delete(bob, shared["id"])

    assert await code_of_restore(bob, personal["id"]) == "NOT_FOUND"
    assert await code_of_restore(viewer, shared["id"]) == "FORBIDDEN"
    stranger, _ = await new_user(http)
    assert await code_of_restore(stranger, shared["id"]) == "NOT_FOUND"
    # A live task of someone else's: NOT_FOUND, never CONFLICT (which would tell it exists).
    live = await new_task(alice, title="Alive")
    assert await code_of_restore(bob, live["id"]) == "NOT_FOUND"
    # The refusals changed nothing: the owner and an editor still can.
    assert (await restore(alice, personal["id"]))["title"] == "Mine"
    back = await restore(bob, shared["id"])
    assert back["project"] == {"id": project["id"]} and back["assignee"] == {"id": b["id"]}


async def test_where_its_place_is_gone_it_comes_back_where_that_place_was(
    http: httpx.AsyncClient,
) -> None:
    alice, a = await new_user(http)
    bob, b = await new_user(http)
    project = await create_project(alice)
    await join(alice, bob, project["id"], b["email"], "EDITOR")
    section = (
        await alice.data(
            'mutation($p: ID!) { createSection(projectId: $p, name: "Doing") { id } }',
            {"p": project["id"]},
        )
    )["createSection"]
    in_section = await new_task(alice, title="In section", sectionId=section["id"])
    parent = await new_task(alice, title="Parent", projectId=project["id"])
    child = await new_task(alice, title="Child", parentId=parent["id"])
    assigned = await new_task(alice, title="Bob's", projectId=project["id"], assigneeId=b["id"])
    await delete(alice, in_section["id"])
    await alice.data("mutation($id: ID!) { deleteSection(id: $id) }", {"id": section["id"]})
    back = await restore(alice, in_section["id"])
    assert back["project"] == {"id": project["id"]} and back["section"] is None

    await delete(alice, child["id"])
    await delete(alice, parent["id"])
    back = await restore(alice, child["id"])
    assert back["parent"] is None and back["project"] == {"id": project["id"]}

    await delete(alice, assigned["id"])
    await alice.data(
        "mutation($p: ID!, $u: ID!) { removeMember(projectId: $p, userId: $u) { id } }",
        {"p": project["id"], "u": b["id"]},
    )
    back = await restore(alice, assigned["id"])
    assert back["assignee"] is None

    await delete(alice, back["id"])
    # A project is deleted once empty.
    await delete(alice, in_section["id"])
    await delete(alice, child["id"])
    await alice.data(
        "mutation($id: ID!) { deleteProject(id: $id) }",
        {"id": project["id"]},
    )
    back = await restore(alice, assigned["id"])
    assert back["project"] is None and back["section"] is None
    inbox = await alice.data("{ tasks(filter: {inbox: true}) { edges { node { id } } } }")
    assert {"node": {"id": assigned["id"]}} in inbox["tasks"]["edges"]
    assert a["id"]


async def test_its_position_taken_meanwhile_it_goes_to_the_end(alice: GraphQLClient) -> None:
    # Subtasks: their creation holds the list's lock, so the next one takes the short successor
    # of the last key, which is the deleted one's (an append without the lock adds a tiebreak).
    parent = await new_task(alice, title="Parent")
    first = await new_task(alice, title="First", parentId=parent["id"])
    second = await new_task(alice, title="Second", parentId=parent["id"])
    await delete(alice, second["id"])
    third = await new_task(alice, title="Third", parentId=parent["id"])
    back = await restore(alice, second["id"])
    assert third["position"] == second["position"]
    assert back["position"] > third["position"] > first["position"]


Shows = Callable[[dict[str, Any], str], bool]
READS: dict[str, tuple[str, Shows]] = {
    # Every read of tasks a deleted task could appear in, and how it would show.
    "task(id)": ("query($id: ID!) { task(id: $id) { id } }", lambda d, i: d["task"] is not None),
    "tasks": (
        "{ tasks(first: 200) { totalCount edges { node { id } } } }",
        lambda d, i: i in [e["node"]["id"] for e in d["tasks"]["edges"]],
    ),
    "tasks(text)": (
        '{ tasks(filter: {text: "zebrafish"}) { totalCount edges { node { id } } } }',
        lambda d, i: d["tasks"]["totalCount"] > 0,
    ),
    "tasks(anyTags)": (
        '{ tasks(filter: {anyTags: ["ghosttag"]}) { totalCount } }',
        lambda d, i: d["tasks"]["totalCount"] > 0,
    ),
    "tasks(topLevel)": (
        "{ tasks(filter: {topLevel: true}) { edges { node { id } } } }",
        lambda d, i: i in [e["node"]["id"] for e in d["tasks"]["edges"]],
    ),
    "tags.openTaskCount": (
        "{ tags { name openTaskCount } }",
        lambda d, i: any(t["openTaskCount"] for t in d["tags"] if t["name"] == "ghosttag"),
    ),
}


async def test_no_read_shows_a_deleted_task(alice: GraphQLClient, engine: AsyncEngine) -> None:
    task = await new_task(alice, title="zebrafish notes", tags=["ghosttag"])
    sub = await new_task(alice, title="zebrafish child", parentId=task["id"])
    shows: dict[str, Shows] = {name: check for name, (_, check) in READS.items()}
    for name, (query, check) in READS.items():
        variables = {"id": task["id"]} if "$id" in query else None
        assert check(await alice.data(query, variables), task["id"]), f"control: {name}"
    await delete(alice, task["id"])
    for name, (query, _) in READS.items():
        variables = {"id": task["id"]} if "$id" in query else None
        assert not shows[name](await alice.data(query, variables), task["id"]), name
    assert (await alice.data("query($id: ID!) { task(id: $id) { id } }", {"id": sub["id"]}))[
        "task"
    ] is None
    # The internal API the workers call (next instance, reminder outcome) does not reach it.
    user_id = uuid.UUID((await alice.data("{ me { id } }"))["me"]["id"])
    with pytest.raises(NotFound):
        await service.create_next_instance(
            uow=UnitOfWork(engine),
            user_id=user_id,
            completed_task_id=uuid.UUID(task["id"]),
            due_at=datetime.now(UTC),
            now=datetime.now(UTC),
            source="recurrence",
        )


async def test_project_counts_skip_a_deleted_task(http: httpx.AsyncClient) -> None:
    alice, _ = await new_user(http)
    project = await create_project(alice)
    task = await new_task(alice, title="Counted", projectId=project["id"])
    query = "query($id: ID!) { project(id: $id) { openTaskCount } }"
    assert (await alice.data(query, {"id": project["id"]}))["project"]["openTaskCount"] == 1
    await delete(alice, task["id"])
    assert (await alice.data(query, {"id": project["id"]}))["project"]["openTaskCount"] == 0
    await restore(alice, task["id"])
    assert (await alice.data(query, {"id": project["id"]}))["project"]["openTaskCount"] == 1


async def test_in_the_whole_system_the_reminder_fires_again_and_the_audit_records_it(
    carol: GraphQLClient,
) -> None:
    # Due in 4 s: delete and restore land well before (asserted), then it fires once.
    due = datetime.now(UTC) + timedelta(seconds=4)
    task = await new_task(
        carol, title="Water the plants", reminders=[{"remindAt": due.isoformat()}]
    )
    await delete(carol, task["id"])
    restored = await restore(carol, task["id"])
    assert datetime.now(UTC) < due, "the test's mutations took longer than the reminder's lead"
    assert [r["state"] for r in restored["reminders"]] == ["SCHEDULED"]
    reminders = "query($id: ID!) { task(id: $id) { reminders { state sentAt } } }"

    async def sent() -> bool:
        found = (await carol.data(reminders, {"id": task["id"]}))["task"]["reminders"]
        return bool(found[0]["state"] == "SENT")

    async with asyncio.timeout((due - datetime.now(UTC)).total_seconds() + 3):
        while not await sent():
            await asyncio.sleep(0.05)
    log = "query($id: ID!) { auditLog(taskId: $id) { edges { node { action changes } } } }"

    async def actions() -> list[str]:
        edges = (await carol.data(log, {"id": task["id"]}))["auditLog"]["edges"]
        return [edge["node"]["action"] for edge in edges]

    async with asyncio.timeout(20.0):
        while "task.restored" not in await actions():
            await asyncio.sleep(0.05)
    assert (await actions())[:3] == ["task.created", "task.deleted", "task.restored"]
    notifications = "{ notifications { totalCount edges { node { taskId } } } }"
    page = (await carol.data(notifications))["notifications"]
    assert page["totalCount"] == 1 and page["edges"][0]["node"]["taskId"] == task["id"]


async def test_deleting_the_account_erases_its_tombstones(
    alice: GraphQLClient, engine: AsyncEngine
) -> None:
    task = await new_task(alice, title="Private")
    await delete(alice, task["id"])
    assert await tombstones(engine, task["id"]) == 1
    await alice.data('mutation { deleteAccount(password: "correct horse") }')
    assert await tombstones(engine, task["id"]) == 0
