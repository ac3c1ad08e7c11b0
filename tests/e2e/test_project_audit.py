"""A shared project's audit chain in the whole in-process system (gateway → outbox → audit):
every member reads and verifies it, VIEWER included; a non-member or a removed member is told
it does not exist, exactly as for an id that names no project; tampering shows."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from taskstream.settings import Settings
from tests.conftest import GraphQLClient
from tests.docs.test_api_examples import COMPLIANCE, python_block
from tests.e2e.test_audit_flow import recompute, report_env, wait_for_entries
from tests.e2e.test_projects import create, join, new_user
from tests.security.test_audit_tampering import behind_the_triggers_back
from workers.audit import trail
from workers.audit.tables import entries

pytestmark = pytest.mark.e2e

ENTRY = "id at actor action taskId changes hash previousHash projectId actorUser { id email }"
PROJECT_LOG = f"""
query($p: ID!, $first: Int, $after: String) {{
  auditLogOfProject(projectId: $p, first: $first, after: $after) {{
    totalCount pageInfo {{ hasNextPage endCursor }} edges {{ cursor node {{ {ENTRY} }} }}
  }}
}}
"""
VERIFY = "query($p: ID!) { verifyProjectAuditLog(projectId: $p) { ok checked firstBroken reason } }"
CREATE_TASK = (
    "mutation($p: ID, $title: String!) { createTask(input: {title: $title, projectId: $p}) { id } }"
)
RENAME_TASK = 'mutation($id: ID!) { updateTask(id: $id, input: {title: "Renamed"}) { id } }'
# Joining a project: the owner invites, the invitee is added as they accept.
JOINING = ["project.invitation.created", "project.member.added", "project.invitation.answered"]


async def project_log(client: GraphQLClient, project_id: str) -> dict[str, Any]:
    """The whole project chain as `client` reads it (one page)."""
    data = await client.data(PROJECT_LOG, {"p": project_id, "first": 200})
    page: dict[str, Any] = data["auditLogOfProject"]
    return page


async def wait_for_project_entries(
    client: GraphQLClient, project_id: str, count: int
) -> list[dict[str, Any]]:
    """The project's chain once it has `count` entries (bounded so that a missing entry fails;
    the contract's 2 s in `up` is a latency figure, not asserted here)."""
    async with asyncio.timeout(20.0):
        while (page := await project_log(client, project_id))["totalCount"] < count:
            await asyncio.sleep(0.05)
    return [edge["node"] for edge in page["edges"]]


async def shared_project(
    system: httpx.AsyncClient,
) -> tuple[dict[str, GraphQLClient], dict[str, dict[str, Any]], str, list[dict[str, Any]]]:
    """Alice's project with Bob (VIEWER) and Dave (EDITOR); Alice creates a task that Dave
    renames. The clients, accounts, project id and the project's chain once recorded."""
    alice, a = await new_user(system)
    bob, b = await new_user(system)
    dave, d = await new_user(system)
    project = (await create(alice))["id"]
    await join(alice, bob, project, b["email"], "VIEWER")
    await join(alice, dave, project, d["email"], "EDITOR")
    task = (await alice.data(CREATE_TASK, {"p": project, "title": "Plan"}))["createTask"]["id"]
    await dave.data(RENAME_TASK, {"id": task})
    expected = 2 + 2 * len(JOINING) + 2  # created with its owner, two joins, the task's two
    nodes = await wait_for_project_entries(bob, project, expected)
    clients = {"alice": alice, "bob": bob, "dave": dave}
    return clients, {"alice": a, "bob": b, "dave": d}, project, nodes


async def test_every_member_reads_and_verifies_the_project_chain(
    system: httpx.AsyncClient,
) -> None:
    clients, users, project, nodes = await shared_project(system)
    assert [node["action"] for node in nodes] == [
        "project.created",
        "project.member.added",
        *JOINING,
        *JOINING,
        "task.created",
        "task.updated",
    ]
    assert {node["projectId"] for node in nodes} == {project}
    # Each entry names the member who acted, with their public profile.
    renamed = nodes[-1]
    assert renamed["actor"] == users["dave"]["id"]
    assert renamed["actorUser"] == {"id": users["dave"]["id"], "email": users["dave"]["email"]}
    assert renamed["changes"]["title"] == {"before": "Plan", "after": "Renamed"}
    assert nodes[-2]["actorUser"]["id"] == users["alice"]["id"]
    # The invitee's acceptance is theirs; the invitations are the owner's.
    assert [n["actor"] for n in nodes[2:5]] == [users["alice"]["id"], *[users["bob"]["id"]] * 2]
    # Anyone holding the page recomputes the chain with the contract's hash rule alone.
    recompute(nodes)
    for name, client in clients.items():
        assert await project_log(client, project) == await project_log(clients["bob"], project)
        verified = (await client.data(VERIFY, {"p": project}))["verifyProjectAuditLog"]
        assert verified == {
            "ok": True,
            "checked": len(nodes),
            "firstBroken": None,
            "reason": None,
        }, name
    # The owner's personal chain keeps the change to their task too, naming the editor.
    mine = await wait_for_entries(clients["alice"], 2)
    updated = next(e for e in mine if e["action"] == "task.updated")
    assert updated["actor"] == users["dave"]["id"]


async def test_non_members_and_removed_members_are_told_it_does_not_exist(
    system: httpx.AsyncClient,
) -> None:
    clients, users, project, _ = await shared_project(system)
    eve, _ = await new_user(system)
    nowhere = str(uuid.uuid4())

    async def answers(client: GraphQLClient, project_id: str) -> list[tuple[str, str]]:
        found = []
        for query in (PROJECT_LOG, VERIFY):
            error = await client.error(query, {"p": project_id})
            found.append(
                (error["extensions"]["code"], error["message"].replace(project_id, "<id>"))
            )
        return found

    foreign = await answers(eve, project)
    assert foreign == await answers(eve, nowhere)
    assert foreign == await answers(eve, "not-an-id")
    assert {code for code, _ in foreign} == {"NOT_FOUND"}
    # Removal takes effect at the next request.
    await clients["alice"].data(
        "mutation($p: ID!, $u: ID!) { removeMember(projectId: $p, userId: $u) { id } }",
        {"p": project, "u": users["bob"]["id"]},
    )
    assert await answers(clients["bob"], project) == foreign
    # Dave, still a member, reads the chain with the removal in it (once audit has it).
    assert len(await wait_for_project_entries(clients["dave"], project, 11)) >= 11


async def project_report(
    settings: Settings, database_url: str, project_id: str, kind: str = "json"
) -> tuple[int, str]:
    """Exit status and text of `taskstream audit report --project` (the compliance export)."""
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("taskstream")),
        "audit",
        "report",
        "--project",
        project_id,
        "--format",
        kind,
        env=report_env(settings, database_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None, err
    return process.returncode, out.decode()


async def offline_check(tmp_path: Path, name: str, export: str) -> str:
    """What docs/compliance.md's offline verifier says of an export."""
    script = tmp_path / "verify_audit_export.py"
    script.write_text(python_block(COMPLIANCE.read_text(), "offline_verify"))
    saved = tmp_path / name
    saved.write_text(export)
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(script), str(saved), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    return out.decode()


async def test_a_tampered_project_entry_breaks_the_project_chain_and_its_report(
    system: httpx.AsyncClient,
    engine: AsyncEngine,
    settings: Settings,
    database_url: str,
    tmp_path: Path,
) -> None:
    clients, _, project, nodes = await shared_project(system)
    status, text = await project_report(settings, database_url, project)
    assert status == 0
    exported = json.loads(text)
    assert exported["project"]["id"] == project
    assert exported["verification"]["ok"] is True
    assert [e["id"] for e in exported["entries"]] == [n["id"] for n in nodes]
    assert exported["head"]["seq"] == len(nodes)
    assert {e["projectId"] for e in exported["entries"]} == {project}
    # The documented offline check verifies a project's export, JSON and CSV, as a user's.
    status, as_csv = await project_report(settings, database_url, project, "csv")
    assert status == 0 and as_csv.startswith(f"# project: {project} (chain ")
    for name, export in (("project.json", text), ("project.csv", as_csv)):
        verdict = await offline_check(tmp_path, name, export)
        assert verdict.startswith(f"ok: {len(nodes)} chain from its start verified"), name
    victim = nodes[-2]  # the task's creation
    await behind_the_triggers_back(
        engine,
        update(entries)
        .where(entries.c.id == uuid.UUID(victim["id"]))
        .values(changes='{"task":{"title":"Forged"}}'),
    )
    verified = (await clients["bob"].data(VERIFY, {"p": project}))["verifyProjectAuditLog"]
    assert verified["ok"] is False
    assert verified["firstBroken"] == victim["id"]
    assert verified["reason"]
    status, text = await project_report(settings, database_url, project)
    assert status == 1
    assert json.loads(text)["verification"]["firstBroken"] == victim["id"]
    assert (await offline_check(tmp_path, "tampered.json", text)).startswith("BROKEN at entry")
    # The project's chain is its own: the members' personal chains still verify.
    for client in clients.values():
        mine = (await client.data("{ verifyAuditLog { ok } }"))["verifyAuditLog"]
        assert mine == {"ok": True}
    # And it is the project's chain, under its derived id, that holds the entry.
    async with engine.connect() as connection:
        owner = await connection.scalar(
            entries.select()
            .with_only_columns(entries.c.user_id)
            .where(entries.c.id == uuid.UUID(victim["id"]))
        )
    assert owner == trail.project_chain(uuid.UUID(project))


async def test_bad_paging_input_is_refused_naming_the_field_and_pages_follow_the_chain(
    system: httpx.AsyncClient,
) -> None:
    clients, _, project, nodes = await shared_project(system)
    bob = clients["bob"]
    query = (
        "query($p: ID!, $first: Int, $after: String, $from: DateTime, $to: DateTime) { "
        "auditLogOfProject(projectId: $p, first: $first, after: $after, from: $from, to: $to) "
        "{ totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }"
    )
    bad: list[tuple[dict[str, Any], str]] = [
        ({"first": 0}, "first"),
        ({"first": 201}, "first"),
        ({"after": "not a cursor"}, "after"),
        ({"from": "2030-01-02T00:00:00Z", "to": "2030-01-01T00:00:00Z"}, "from"),
    ]
    for variables, field in bad:
        error = await bob.error(query, {"p": project, **variables})
        assert error["extensions"]["code"] == "BAD_USER_INPUT", variables
        assert error["message"].startswith(field), error
    # Pages of 4 walk the chain in order, with the exact total on each.
    seen: list[str] = []
    after = None
    while True:
        page = (await bob.data(query, {"p": project, "first": 4, "after": after}))[
            "auditLogOfProject"
        ]
        assert page["totalCount"] == len(nodes)
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [node["id"] for node in nodes]
    # A time window selects by `at`: nothing before the project existed.
    empty = await bob.data(query, {"p": project, "to": "2000-01-01T00:00:00Z"})
    assert empty["auditLogOfProject"]["totalCount"] == 0
