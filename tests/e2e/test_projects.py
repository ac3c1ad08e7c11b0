"""Shared projects over HTTP: members and roles, invitations, the last-owner rule, isolation."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_core.persistence import tables as t
from tests.conftest import GraphQLClient

pytestmark = pytest.mark.e2e

PROJECT = "id name color archived myRole version members { user { id email } role }"
INVITATION = "id projectName invitedBy { id email } email role state"


async def new_user(http: httpx.AsyncClient) -> tuple[GraphQLClient, dict[str, Any]]:
    """A freshly signed-up user and their account."""
    client = GraphQLClient(http)
    return client, await client.sign_up()


async def create(client: GraphQLClient, name: str = "Launch") -> dict[str, Any]:
    """A new project of the client's."""
    data = await client.data(
        f'mutation($n: String!) {{ createProject(name: $n, color: "#3A7BD5") {{ {PROJECT} }} }}',
        {"n": name},
    )
    project: dict[str, Any] = data["createProject"]
    return project


async def invite(
    owner: GraphQLClient, project_id: str, email: str, role: str = "EDITOR"
) -> dict[str, Any]:
    """An invitation of `email` to the project."""
    data = await owner.data(
        "mutation($p: ID!, $e: String!, $r: ProjectRole!) { inviteToProject(projectId: $p, "
        f"email: $e, role: $r) {{ {INVITATION} }} }}",
        {"p": project_id, "e": email, "r": role},
    )
    invitation: dict[str, Any] = data["inviteToProject"]
    return invitation


async def join(
    owner: GraphQLClient, member: GraphQLClient, project_id: str, email: str, role: str
) -> dict[str, Any]:
    """Invite and accept: `member` joins the project in `role`."""
    invitation = await invite(owner, project_id, email, role)
    data = await member.data(
        f"mutation($id: ID!) {{ acceptInvitation(id: $id) {{ {PROJECT} }} }}",
        {"id": invitation["id"]},
    )
    project: dict[str, Any] = data["acceptInvitation"]
    return project


async def project_of(client: GraphQLClient, project_id: str) -> dict[str, Any] | None:
    """The project as the client sees it, or None."""
    data = await client.data(
        f"query($id: ID!) {{ project(id: $id) {{ {PROJECT} }} }}", {"id": project_id}
    )
    project: dict[str, Any] | None = data["project"]
    return project


async def test_a_new_project_has_its_creator_as_owner(http: httpx.AsyncClient) -> None:
    alice, me = await new_user(http)
    project = await create(alice)
    assert project["name"] == "Launch"
    assert project["color"] == "#3a7bd5"
    assert project["myRole"] == "OWNER"
    assert project["members"] == [{"user": {"id": me["id"], "email": me["email"]}, "role": "OWNER"}]
    listed = (await alice.data("{ projects { id } }"))["projects"]
    assert listed == [{"id": project["id"]}]


async def test_invited_user_accepts_and_becomes_a_member(http: httpx.AsyncClient) -> None:
    alice, a = await new_user(http)
    bob, b = await new_user(http)
    project = await create(alice)
    invitation = await invite(alice, project["id"], b["email"].upper(), "VIEWER")
    assert invitation["state"] == "PENDING"
    assert invitation["invitedBy"] == {"id": a["id"], "email": a["email"]}
    assert invitation["projectName"] == "Launch"
    mine = (await bob.data(f"{{ myInvitations {{ {INVITATION} }} }}"))["myInvitations"]
    assert mine == [invitation]
    joined = (
        await bob.data(
            f"mutation($id: ID!) {{ acceptInvitation(id: $id) {{ {PROJECT} }} }}",
            {"id": invitation["id"]},
        )
    )["acceptInvitation"]
    assert joined["myRole"] == "VIEWER"
    assert [m["role"] for m in joined["members"]] == ["OWNER", "VIEWER"]
    assert (await bob.data("{ myInvitations { id } }"))["myInvitations"] == []
    seen_by_alice = await project_of(alice, project["id"])
    assert seen_by_alice is not None and len(seen_by_alice["members"]) == 2


async def test_invite_answers_the_same_whether_or_not_the_email_has_an_account(
    http: httpx.AsyncClient,
) -> None:
    alice, _ = await new_user(http)
    _, b = await new_user(http)
    project = await create(alice)
    known = await invite(alice, project["id"], b["email"])
    unknown = await invite(alice, project["id"], f"nobody-{uuid.uuid4().hex[:8]}@example.com")
    assert {k: v for k, v in known.items() if k not in ("id", "email")} == {
        k: v for k, v in unknown.items() if k not in ("id", "email")
    }


async def test_decline_and_revoke(http: httpx.AsyncClient) -> None:
    alice, _ = await new_user(http)
    bob, b = await new_user(http)
    project = await create(alice)
    first = await invite(alice, project["id"], b["email"])
    declined = (
        await bob.data(
            f"mutation($id: ID!) {{ declineInvitation(id: $id) {{ {INVITATION} }} }}",
            {"id": first["id"]},
        )
    )["declineInvitation"]
    assert declined["state"] == "DECLINED"
    second = await invite(alice, project["id"], b["email"])
    revoked = (
        await alice.data(
            f"mutation($id: ID!) {{ revokeInvitation(id: $id) {{ {INVITATION} }} }}",
            {"id": second["id"]},
        )
    )["revokeInvitation"]
    assert revoked["state"] == "REVOKED"
    error = await bob.error(
        "mutation($id: ID!) { acceptInvitation(id: $id) { id } }", {"id": second["id"]}
    )
    assert error["extensions"]["code"] == "CONFLICT"
    assert await project_of(bob, project["id"]) is None


async def test_a_second_pending_invitation_to_one_address_is_conflict(
    http: httpx.AsyncClient,
) -> None:
    alice, _ = await new_user(http)
    project = await create(alice)
    await invite(alice, project["id"], "twice@example.com")
    error = await alice.error(
        'mutation($p: ID!) { inviteToProject(projectId: $p, email: "TWICE@example.com", '
        "role: EDITOR) { id } }",
        {"p": project["id"]},
    )
    assert error["extensions"]["code"] == "CONFLICT"
    assert "email" in error["message"]


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ('mutation($p: ID!) { updateProject(id: $p, name: "x") { id } }', {}),
        ("mutation($p: ID!) { deleteProject(id: $p) }", {}),
        (
            'mutation($p: ID!) { inviteToProject(projectId: $p, email: "z@example.com", '
            "role: VIEWER) { id } }",
            {},
        ),
        (
            "mutation($p: ID!, $u: ID!) { changeMemberRole(projectId: $p, userId: $u, "
            "role: VIEWER) { id } }",
            {"u": "owner"},
        ),
        (
            "mutation($p: ID!, $u: ID!) { removeMember(projectId: $p, userId: $u) { id } }",
            {"u": "owner"},
        ),
    ],
)
@pytest.mark.parametrize("role", ["VIEWER", "EDITOR"])
async def test_members_without_the_role_are_forbidden_and_change_nothing(
    http: httpx.AsyncClient, query: str, variables: dict[str, str], role: str
) -> None:
    alice, a = await new_user(http)
    bob, b = await new_user(http)
    project = await create(alice)
    before = await join(alice, bob, project["id"], b["email"], role)
    values = {"p": project["id"], **{k: a["id"] for k in variables}}
    error = await bob.error(query, values)
    assert error["extensions"]["code"] == "FORBIDDEN", error
    assert await project_of(alice, project["id"]) == {**before, "myRole": "OWNER"}


async def outsiders_fields(
    http: httpx.AsyncClient,
) -> tuple[GraphQLClient, GraphQLClient, dict[str, Any], dict[str, str]]:
    """Alice's project with Bob as an EDITOR and a pending invitation; the ids to probe."""
    alice, a = await new_user(http)
    bob, b = await new_user(http)
    project = await create(alice)
    await join(alice, bob, project["id"], b["email"], "EDITOR")
    pending = await invite(alice, project["id"], f"p-{uuid.uuid4().hex[:8]}@example.com")
    ids = {"p": project["id"], "u": a["id"], "i": pending["id"], "bob": b["id"]}
    return alice, bob, project, ids


PROBES = [
    'mutation($p: ID!) { updateProject(id: $p, name: "x") { id } }',
    "mutation($p: ID!) { deleteProject(id: $p) }",
    'mutation($p: ID!) { inviteToProject(projectId: $p, email: "z@example.com", role: VIEWER) '
    "{ id } }",
    "mutation($p: ID!, $u: ID!) { changeMemberRole(projectId: $p, userId: $u, role: VIEWER) "
    "{ id } }",
    "mutation($p: ID!, $u: ID!) { removeMember(projectId: $p, userId: $u) { id } }",
    "mutation($p: ID!) { leaveProject(projectId: $p) }",
    "query($p: ID!) { projectInvitations(projectId: $p) { id } }",
    "mutation($i: ID!) { revokeInvitation(id: $i) { id } }",
    "mutation($i: ID!) { acceptInvitation(id: $i) { id } }",
    "mutation($i: ID!) { declineInvitation(id: $i) { id } }",
]


def _variables(query: str, ids: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in ids.items() if f"${k}:" in query}


@pytest.mark.parametrize("query", PROBES)
async def test_non_members_get_not_found_for_every_project_field(
    http: httpx.AsyncClient, query: str
) -> None:
    alice, _, project, ids = await outsiders_fields(http)
    before = await project_of(alice, project["id"])
    stranger, _ = await new_user(http)
    error = await stranger.error(query, _variables(query, ids))
    assert error["extensions"]["code"] == "NOT_FOUND", error
    assert await project_of(stranger, project["id"]) is None
    assert await project_of(alice, project["id"]) == before


@pytest.mark.parametrize("query", PROBES)
async def test_removed_members_get_not_found_for_every_project_field(
    http: httpx.AsyncClient, query: str
) -> None:
    alice, bob, project, ids = await outsiders_fields(http)
    await alice.data(
        "mutation($p: ID!, $u: ID!) { removeMember(projectId: $p, userId: $u) { version } }",
        {"p": project["id"], "u": ids["bob"]},
    )
    before = await project_of(alice, project["id"])
    error = await bob.error(query, _variables(query, ids))
    assert error["extensions"]["code"] == "NOT_FOUND", error
    assert await project_of(bob, project["id"]) is None
    assert (await bob.data("{ projects { id } }"))["projects"] == []
    assert await project_of(alice, project["id"]) == before


async def test_the_last_owner_cannot_leave_be_demoted_or_removed(http: httpx.AsyncClient) -> None:
    alice, a = await new_user(http)
    bob, b = await new_user(http)
    project = await create(alice)
    await join(alice, bob, project["id"], b["email"], "EDITOR")
    leave = await alice.error(
        "mutation($p: ID!) { leaveProject(projectId: $p) }", {"p": project["id"]}
    )
    assert leave["extensions"]["code"] == "CONFLICT"
    demote = await alice.error(
        "mutation($p: ID!, $u: ID!) { changeMemberRole(projectId: $p, userId: $u, role: EDITOR) "
        "{ id } }",
        {"p": project["id"], "u": a["id"]},
    )
    assert demote["extensions"]["code"] == "CONFLICT"
    await alice.data(
        "mutation($p: ID!, $u: ID!) { changeMemberRole(projectId: $p, userId: $u, role: OWNER) "
        "{ id } }",
        {"p": project["id"], "u": b["id"]},
    )
    assert (
        await alice.data("mutation($p: ID!) { leaveProject(projectId: $p) }", {"p": project["id"]})
    )["leaveProject"] == project["id"]
    left = await project_of(bob, project["id"])
    assert left is not None
    assert [(m["user"]["id"], m["role"]) for m in left["members"]] == [(b["id"], "OWNER")]
    # Alone, the last owner may leave: the project goes with them.
    await bob.data("mutation($p: ID!) { leaveProject(projectId: $p) }", {"p": project["id"]})
    assert await project_of(bob, project["id"]) is None


async def two_owners(
    http: httpx.AsyncClient,
) -> tuple[GraphQLClient, dict[str, Any], GraphQLClient, dict[str, Any], dict[str, Any]]:
    """Alice and Bob, both owners of one project, with a viewer."""
    alice, a = await new_user(http)
    bob, b = await new_user(http)
    viewer, v = await new_user(http)
    project = await create(alice)
    await join(alice, bob, project["id"], b["email"], "OWNER")
    await join(alice, viewer, project["id"], v["email"], "VIEWER")
    return alice, a, bob, b, project


async def test_two_owners_demoting_each_other_leave_one_owner(http: httpx.AsyncClient) -> None:
    alice, a, bob, b, project = await two_owners(http)
    query = (
        "mutation($p: ID!, $u: ID!) { changeMemberRole(projectId: $p, userId: $u, role: EDITOR) "
        "{ id } }"
    )
    results = await asyncio.gather(
        alice.execute(query, {"p": project["id"], "u": b["id"]}),
        bob.execute(query, {"p": project["id"], "u": a["id"]}),
    )
    codes = sorted(r["errors"][0]["extensions"]["code"] if "errors" in r else "OK" for r in results)
    assert codes == ["CONFLICT", "OK"] or codes == ["FORBIDDEN", "OK"], results
    after = await project_of(alice, project["id"]) or await project_of(bob, project["id"])
    assert after is not None
    assert [m["role"] for m in after["members"]].count("OWNER") == 1


async def test_two_owners_leaving_at_once_leave_one_owner(http: httpx.AsyncClient) -> None:
    alice, _, bob, _, project = await two_owners(http)
    query = "mutation($p: ID!) { leaveProject(projectId: $p) }"
    results = await asyncio.gather(
        alice.execute(query, {"p": project["id"]}), bob.execute(query, {"p": project["id"]})
    )
    codes = sorted(r["errors"][0]["extensions"]["code"] if "errors" in r else "OK" for r in results)
    assert codes == ["CONFLICT", "OK"], results
    remaining = await project_of(alice, project["id"]) or await project_of(bob, project["id"])
    assert remaining is not None
    assert [m["role"] for m in remaining["members"]] == ["OWNER", "VIEWER"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ('mutation { createProject(name: "   ") { id } }', "name"),
        ('mutation { createProject(name: "' + "x" * 101 + '") { id } }', "name"),
        ('mutation { createProject(name: "ok", color: "red") { id } }', "color"),
    ],
)
async def test_bad_project_input_names_the_field_and_creates_nothing(
    http: httpx.AsyncClient, query: str, field: str
) -> None:
    alice, _ = await new_user(http)
    error = await alice.error(query)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith(f"{field}:")
    assert (await alice.data("{ projects { id } }"))["projects"] == []


async def test_bad_invitation_input_changes_nothing(http: httpx.AsyncClient) -> None:
    alice, _ = await new_user(http)
    project = await create(alice)
    error = await alice.error(
        'mutation($p: ID!) { inviteToProject(projectId: $p, email: "not-an-address", '
        "role: EDITOR) { id } }",
        {"p": project["id"]},
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("email:")
    assert (
        await alice.data(
            "query($p: ID!) { projectInvitations(projectId: $p) { id } }", {"p": project["id"]}
        )
    )["projectInvitations"] == []


async def test_pending_invitations_per_project_are_bounded(http: httpx.AsyncClient) -> None:
    from gateway_core.domain.projects import PENDING_INVITATIONS_MAX

    alice, _ = await new_user(http)
    project = await create(alice)
    # The members count too: the owner is one of the 50, so 49 invitations fill it.
    for n in range(PENDING_INVITATIONS_MAX - 1):
        await invite(alice, project["id"], f"guest{n}@example.com")
    error = await alice.error(
        'mutation($p: ID!) { inviteToProject(projectId: $p, email: "one-more@example.com", '
        "role: VIEWER) { id } }",
        {"p": project["id"]},
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("projectId:")
    listed = await alice.data(
        "query($p: ID!) { projectInvitations(projectId: $p) { id } }", {"p": project["id"]}
    )
    assert len(listed["projectInvitations"]) == PENDING_INVITATIONS_MAX - 1


async def test_every_change_is_an_event_in_the_outbox(
    http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    alice, a = await new_user(http)
    bob, b = await new_user(http)
    project = await create(alice)
    await join(alice, bob, project["id"], b["email"], "VIEWER")
    await alice.data(
        "mutation($p: ID!, $u: ID!) { changeMemberRole(projectId: $p, userId: $u, role: EDITOR) "
        "{ id } }",
        {"p": project["id"], "u": b["id"]},
    )
    await alice.data(
        "mutation($p: ID!) { updateProject(id: $p, archived: true) { id } }", {"p": project["id"]}
    )
    await bob.data("mutation($p: ID!) { leaveProject(projectId: $p) }", {"p": project["id"]})
    await alice.data("mutation($p: ID!) { deleteProject(id: $p) }", {"p": project["id"]})
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(t.outbox.c.type, t.outbox.c.payload)
                .where(t.outbox.c.partition_key == project["id"])
                .order_by(t.outbox.c.position)
            )
        ).all()
    assert [r.type for r in rows] == [
        "taskstream.project.created.v1",
        "taskstream.project.member.added.v1",
        "taskstream.project.invitation.created.v1",
        "taskstream.project.member.added.v1",
        "taskstream.project.invitation.answered.v1",
        "taskstream.project.member.changed.v1",
        "taskstream.project.updated.v1",
        "taskstream.project.member.removed.v1",
        "taskstream.project.deleted.v1",
    ]
    data = [r.payload["data"] for r in rows]
    assert [d["version"] for d in data] == [1, 1, 2, 3, 4, 5, 6, 7, 8]
    assert data[2]["inviteeId"] == b["id"]
    assert "email" not in data[2]
    assert data[5] == {
        "userId": a["id"],
        "projectId": project["id"],
        "version": 5,
        "memberId": b["id"],
        "role": "EDITOR",
        "previousRole": "VIEWER",
    }
    assert data[-1]["memberIds"] == [a["id"]]


async def test_projects_per_user_are_bounded(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway_core.services import projects as service

    # The real bound is 200; two shows the rule without 200 requests.
    monkeypatch.setattr(service, "PROJECTS_PER_USER_MAX", 2)
    alice, _ = await new_user(http)
    bob, b = await new_user(http)
    await create(bob, "one")
    await create(bob, "two")
    error = await bob.error('mutation { createProject(name: "three") { id } }')
    assert error["extensions"]["code"] == "CONFLICT"
    project = await create(alice)
    invitation = await invite(alice, project["id"], b["email"])
    refused = await bob.error(
        "mutation($id: ID!) { acceptInvitation(id: $id) { id } }", {"id": invitation["id"]}
    )
    assert refused["extensions"]["code"] == "CONFLICT"
    assert len((await bob.data("{ projects { id } }"))["projects"]) == 2
    assert (await bob.data("{ myInvitations { state } }"))["myInvitations"] == [
        {"state": "PENDING"}
    ]
