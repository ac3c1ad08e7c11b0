"""Project tag sets over HTTP: a project task's tags come from the project's set, shared by
every member; personal tags stay personal; EDITORs and OWNERs change the set."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import GraphQLClient
from tests.e2e.test_projects import create, join, new_user

pytestmark = pytest.mark.e2e

CREATE = (
    "mutation($p: ID, $t: String!, $tags: [String!]) { createTask(input: {title: $t, "
    "projectId: $p, tags: $tags}) { id tags { id name project { id } } } }"
)
PROJECT_TAGS = "query($p: ID!) { projectTags(projectId: $p) { id name project { id } } }"
MY_TAGS = "{ tags { id name project { id } } }"
TAGGED = "query($f: TaskFilter) { tasks(filter: $f) { edges { node { id } } } }"


async def project_tags(client: GraphQLClient, project_id: str) -> list[dict[str, Any]]:
    """The project's tag set as the client reads it."""
    found: list[dict[str, Any]] = (await client.data(PROJECT_TAGS, {"p": project_id}))[
        "projectTags"
    ]
    return found


async def test_members_share_the_projects_tag_set(http: httpx.AsyncClient) -> None:
    alice, _ = await new_user(http)
    bob, b = await new_user(http)
    project = await create(alice)
    await join(alice, bob, project["id"], b["email"], "EDITOR")
    await alice.data(CREATE, {"p": None, "t": "personal", "tags": ["Urgent"]})
    first = (await alice.data(CREATE, {"p": project["id"], "t": "a", "tags": ["Release"]}))[
        "createTask"
    ]
    # Bob's spelling resolves to the project's tag Alice created: one tag, shared.
    second = (await bob.data(CREATE, {"p": project["id"], "t": "b", "tags": ["release"]}))[
        "createTask"
    ]
    assert second["tags"] == first["tags"]
    assert first["tags"][0]["name"] == "Release"
    assert first["tags"][0]["project"] == {"id": project["id"]}
    shared = await project_tags(bob, project["id"])
    assert shared == first["tags"]
    # The personal tag stays Alice's alone; the project's tag is nobody's personal tag.
    assert [t["name"] for t in (await alice.data(MY_TAGS))["tags"]] == ["Urgent"]
    assert (await bob.data(MY_TAGS))["tags"] == []
    # A tag filter finds the project's tasks for every member.
    found = await bob.data(TAGGED, {"f": {"anyTags": ["RELEASE"]}})
    assert {e["node"]["id"] for e in found["tasks"]["edges"]} == {first["id"], second["id"]}
    # Each scope answers for its own tags: the project's within the project, the personal one
    # beside them, and none of the personal ones inside the project.
    project_only = {"anyTags": ["release"], "projectId": project["id"]}
    inside = await bob.data(TAGGED, {"f": project_only})
    assert {e["node"]["id"] for e in inside["tasks"]["edges"]} == {first["id"], second["id"]}
    mixed = await alice.data(TAGGED, {"f": {"anyTags": ["Urgent", "Release"]}})
    assert len(mixed["tasks"]["edges"]) == 3
    elsewhere = await alice.data(TAGGED, {"f": {"anyTags": ["Urgent"], "projectId": project["id"]}})
    assert elsewhere["tasks"]["edges"] == []
    both = await alice.data(TAGGED, {"f": {"allTags": ["Urgent", "Release"]}})
    assert both["tasks"]["edges"] == []


async def test_a_project_tag_is_renamed_by_editors_not_viewers_nor_outsiders(
    http: httpx.AsyncClient,
) -> None:
    alice, _ = await new_user(http)
    bob, b = await new_user(http)
    vic, v = await new_user(http)
    stranger, _ = await new_user(http)
    project = await create(alice)
    await join(alice, bob, project["id"], b["email"], "EDITOR")
    await join(alice, vic, project["id"], v["email"], "VIEWER")
    task = (await alice.data(CREATE, {"p": project["id"], "t": "a", "tags": ["Draft"]}))[
        "createTask"
    ]
    tag_id = task["tags"][0]["id"]
    rename = "mutation($id: ID!, $n: String!) { renameTag(id: $id, name: $n) { id name } }"
    viewer = await vic.error(rename, {"id": tag_id, "n": "Final"})
    assert viewer["extensions"]["code"] == "FORBIDDEN", viewer
    outsider = await stranger.error(rename, {"id": tag_id, "n": "Final"})
    assert outsider["extensions"]["code"] == "NOT_FOUND", outsider
    for client in (vic, stranger):
        error = await client.error("mutation($id: ID!) { deleteTag(id: $id) }", {"id": tag_id})
        assert error["extensions"]["code"] in ("FORBIDDEN", "NOT_FOUND")
    assert [t["name"] for t in await project_tags(alice, project["id"])] == ["Draft"]
    renamed = await bob.data(rename, {"id": tag_id, "n": "Final"})
    assert renamed["renameTag"] == {"id": tag_id, "name": "Final"}
    seen = await alice.data(
        "query($id: ID!) { task(id: $id) { tags { name } } }", {"id": task["id"]}
    )
    assert seen["task"]["tags"] == [{"name": "Final"}]


async def test_non_members_cannot_read_a_projects_tag_set(http: httpx.AsyncClient) -> None:
    alice, _ = await new_user(http)
    stranger, _ = await new_user(http)
    project = await create(alice)
    await alice.data(CREATE, {"p": project["id"], "t": "a", "tags": ["Secret"]})
    error = await stranger.error(PROJECT_TAGS, {"p": project["id"]})
    assert error["extensions"]["code"] == "NOT_FOUND"
