"""Task mutations and reads over HTTP: every rule of CONTRACT.md this slice owns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import GraphQLClient

pytestmark = pytest.mark.e2e

TASK_FIELDS = """
  id title notes status priority dueAt completedAt seriesId version createdAt updatedAt
  tags { id name openTaskCount }
  reminders { id remindAt beforeDue channels state sentAt }
  recurrence { rule repeatFrom timezone skipped upcoming(limit: 3) }
"""
CREATE = f"mutation($i: CreateTaskInput!) {{ createTask(input: $i) {{ {TASK_FIELDS} }} }}"
UPDATE = (
    "mutation($id: ID!, $i: UpdateTaskInput!) "
    f"{{ updateTask(id: $id, input: $i) {{ {TASK_FIELDS} }} }}"
)
GET = f"query($id: ID!) {{ task(id: $id) {{ {TASK_FIELDS} }} }}"


async def create(client: GraphQLClient, **fields: Any) -> dict[str, Any]:
    """Create a task and return it."""
    data = await client.data(CREATE, {"i": fields})
    task: dict[str, Any] = data["createTask"]
    return task


async def test_create_task_with_tags_reminders_and_due_date(alice: GraphQLClient) -> None:
    task = await create(
        alice,
        title="  Write the report  ",
        notes="quarterly numbers",
        priority="HIGH",
        tags=["work", "Reports", "WORK"],
        dueAt="2030-01-15T17:00:00+01:00",
        reminders=[
            {"beforeDue": 30, "channels": ["IN_APP", "EMAIL"]},
            {"remindAt": "2030-01-15T08:00:00Z"},
        ],
    )
    assert task["title"] == "Write the report"
    assert task["status"] == "OPEN" and task["priority"] == "HIGH" and task["version"] == 1
    assert [t["name"] for t in task["tags"]] == ["work", "Reports"]
    assert all(t["openTaskCount"] == 1 for t in task["tags"])
    assert task["dueAt"] == "2030-01-15T16:00:00+00:00"
    relative, absolute = task["reminders"]
    assert relative["remindAt"] == "2030-01-15T15:30:00+00:00" and relative["beforeDue"] == 30
    assert relative["channels"] == ["IN_APP", "EMAIL"] and relative["state"] == "SCHEDULED"
    assert absolute["channels"] == ["IN_APP"] and absolute["beforeDue"] is None
    assert task["recurrence"] is None and task["seriesId"] is None
    fetched = (await alice.data(GET, {"id": task["id"]}))["task"]
    assert fetched == task


async def test_existing_tag_spelling_wins_case_insensitively(alice: GraphQLClient) -> None:
    await create(alice, title="a", tags=["Home"])
    second = await create(alice, title="b", tags=["home"])
    assert [t["name"] for t in second["tags"]] == ["Home"]
    tags = (await alice.data("{ tags { name openTaskCount } }"))["tags"]
    assert tags == [{"name": "Home", "openTaskCount": 2}]


async def test_update_changes_only_given_fields_and_bumps_version(alice: GraphQLClient) -> None:
    task = await create(
        alice, title="Plan", notes="n", dueAt="2030-02-01T10:00:00Z", reminders=[{"beforeDue": 60}]
    )
    updated = (
        await alice.data(
            UPDATE,
            {"id": task["id"], "i": {"dueAt": "2030-02-02T10:00:00Z", "expectedVersion": 1}},
        )
    )["updateTask"]
    assert updated["version"] == 2 and updated["title"] == "Plan" and updated["notes"] == "n"
    # A relative reminder follows its task's due date.
    assert updated["reminders"][0]["remindAt"] == "2030-02-02T09:00:00+00:00"
    stale = await alice.error(
        UPDATE, {"id": task["id"], "i": {"title": "Other", "expectedVersion": 1}}
    )
    assert stale["extensions"]["code"] == "CONFLICT"
    assert (await alice.data(GET, {"id": task["id"]}))["task"]["title"] == "Plan"
    cleared = (
        await alice.data(UPDATE, {"id": task["id"], "i": {"reminders": [], "clearDueAt": True}})
    )["updateTask"]
    assert cleared["dueAt"] is None and cleared["reminders"] == [] and cleared["version"] == 3


async def test_an_update_that_changes_nothing_keeps_the_version(alice: GraphQLClient) -> None:
    task = await create(alice, title="Same")
    same = (await alice.data(UPDATE, {"id": task["id"], "i": {"title": "Same"}}))["updateTask"]
    assert same["version"] == 1


async def test_complete_reopen_and_delete(alice: GraphQLClient) -> None:
    task = await create(
        alice, title="Done soon", dueAt="2030-03-01T10:00:00Z", reminders=[{"beforeDue": 5}]
    )
    fields = "id status completedAt version reminders { state }"
    done = (await alice.data(f'mutation {{ completeTask(id: "{task["id"]}") {{ {fields} }} }}'))[
        "completeTask"
    ]
    assert done["status"] == "DONE" and done["completedAt"] is not None and done["version"] == 2
    assert done["reminders"] == [{"state": "CANCELLED"}]
    again = (await alice.data(f'mutation {{ completeTask(id: "{task["id"]}") {{ {fields} }} }}'))[
        "completeTask"
    ]
    assert again["version"] == 2
    reopened = (await alice.data(f'mutation {{ reopenTask(id: "{task["id"]}") {{ {fields} }} }}'))[
        "reopenTask"
    ]
    assert reopened["status"] == "OPEN" and reopened["completedAt"] is None
    assert reopened["version"] == 3
    deleted = await alice.data(f'mutation {{ deleteTask(id: "{task["id"]}") }}')
    assert deleted["deleteTask"] == task["id"]
    assert (await alice.data(GET, {"id": task["id"]}))["task"] is None
    gone = await alice.error(f'mutation {{ deleteTask(id: "{task["id"]}") }}')
    assert gone["extensions"]["code"] == "NOT_FOUND"


async def test_recurring_task_without_due_date_gets_the_first_occurrence(
    alice: GraphQLClient,
) -> None:
    task = await create(
        alice,
        title="Stand-up",
        recurrence={"rule": "FREQ=DAILY;BYHOUR=9;BYMINUTE=0", "timezone": "Europe/Berlin"},
    )
    assert task["dueAt"] is not None and task["seriesId"] is not None
    recurrence = task["recurrence"]
    assert recurrence["rule"].startswith("FREQ=DAILY") and recurrence["repeatFrom"] == "DUE_DATE"
    assert len(recurrence["upcoming"]) == 3
    # 09:00 in Berlin is 08:00 or 07:00 UTC depending on the season.
    assert all(u[11:19] in ("08:00:00", "07:00:00") for u in recurrence["upcoming"])


async def test_recurrence_defaults_to_the_users_time_zone(gql: GraphQLClient) -> None:
    await gql.sign_up(timezone="America/New_York")
    task = await create(
        gql, title="Weekly", dueAt="2030-01-07T09:00:00-05:00", recurrence={"rule": "FREQ=WEEKLY"}
    )
    assert task["recurrence"]["timezone"] == "America/New_York"


async def test_skip_occurrence_moves_the_instance_in_place(alice: GraphQLClient) -> None:
    task = await create(
        alice,
        title="Water plants",
        dueAt="2030-01-01T09:00:00+01:00",
        recurrence={"rule": "FREQ=DAILY", "timezone": "Europe/Berlin"},
        reminders=[{"beforeDue": 10}, {"remindAt": "2030-01-01T07:00:00Z"}],
    )
    skipped = (
        await alice.data(f'mutation {{ skipOccurrence(id: "{task["id"]}") {{ {TASK_FIELDS} }} }}')
    )["skipOccurrence"]
    assert skipped["id"] == task["id"]
    assert skipped["dueAt"] == "2030-01-02T08:00:00+00:00"
    assert skipped["recurrence"]["skipped"] == ["2030-01-01T08:00:00+00:00"]
    assert skipped["reminders"][0]["remindAt"] == "2030-01-02T07:50:00+00:00"
    assert skipped["reminders"][1]["remindAt"] == "2030-01-02T07:00:00+00:00"
    one_off = await create(alice, title="Once")
    error = await alice.error(f'mutation {{ skipOccurrence(id: "{one_off["id"]}") {{ id }} }}')
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_snooze_reminder(alice: GraphQLClient) -> None:
    task = await create(alice, title="Call", reminders=[{"remindAt": "2030-01-01T07:00:00Z"}])
    reminder_id = task["reminders"][0]["id"]
    snoozed = (
        await alice.data(
            f'mutation {{ snoozeReminder(id: "{reminder_id}", minutes: 15) '
            "{ id remindAt state beforeDue } }"
        )
    )["snoozeReminder"]
    assert snoozed["id"] == reminder_id and snoozed["state"] == "SCHEDULED"
    assert snoozed["remindAt"] < "2030"
    bad = await alice.error(
        f'mutation {{ snoozeReminder(id: "{reminder_id}", minutes: 0) {{ id }} }}'
    )
    assert bad["extensions"]["code"] == "BAD_USER_INPUT" and bad["message"].startswith("minutes")


async def test_snooze_keeps_a_relative_reminder_relative(alice: GraphQLClient) -> None:
    task = await create(
        alice, title="Stand-up", dueAt="2030-01-01T09:00:00Z", reminders=[{"beforeDue": 1}]
    )
    reminder_id = task["reminders"][0]["id"]
    fields = "{ reminders { id remindAt beforeDue state } }"
    snoozed = (
        await alice.data(
            f'mutation {{ snoozeReminder(id: "{reminder_id}", minutes: 15) '
            "{ remindAt beforeDue state } }"
        )
    )["snoozeReminder"]
    # Snoozed once: it fires in 15 minutes, and is still "1 minute before".
    assert snoozed["beforeDue"] == 1 and snoozed["state"] == "SCHEDULED"
    assert snoozed["remindAt"] < "2030"
    renamed = (
        await alice.data(
            f'mutation {{ updateTask(id: "{task["id"]}", input: {{title: "Daily"}}) {fields} }}'
        )
    )["updateTask"]
    assert renamed["reminders"][0]["remindAt"] == snoozed["remindAt"]
    moved = (
        await alice.data(
            f'mutation {{ updateTask(id: "{task["id"]}", '
            f'input: {{dueAt: "2030-01-02T09:00:00Z"}}) {fields} }}'
        )
    )["updateTask"]
    reminder = moved["reminders"][0]
    assert reminder["beforeDue"] == 1
    assert datetime.fromisoformat(reminder["remindAt"]) == datetime(2030, 1, 2, 8, 59, tzinfo=UTC)


async def test_rename_and_delete_tag_update_their_tasks(alice: GraphQLClient) -> None:
    task = await create(alice, title="Tagged", tags=["errands", "later"])
    errands = task["tags"][0]["id"]
    renamed = (
        await alice.data(f'mutation {{ renameTag(id: "{errands}", name: "Chores") {{ id name }} }}')
    )["renameTag"]
    assert renamed == {"id": errands, "name": "Chores"}
    after = (await alice.data(GET, {"id": task["id"]}))["task"]
    assert [t["name"] for t in after["tags"]] == ["Chores", "later"] and after["version"] == 2
    clash = await alice.error(f'mutation {{ renameTag(id: "{errands}", name: "LATER") {{ id }} }}')
    assert clash["extensions"]["code"] == "CONFLICT"
    await alice.data(f'mutation {{ deleteTag(id: "{errands}") }}')
    final = (await alice.data(GET, {"id": task["id"]}))["task"]
    assert [t["name"] for t in final["tags"]] == ["later"] and final["version"] == 3
    assert [t["name"] for t in (await alice.data("{ tags { name } }"))["tags"]] == ["later"]


async def test_webhooks_register_list_and_delete(carol: GraphQLClient) -> None:
    # Webhooks live in the notifications service: this runs against the whole system.
    alice = carol
    registered = await alice.data(
        'mutation { registerWebhook(url: "https://93.184.215.14/hook") '
        "{ secret webhook { id url createdAt } } }"
    )
    registration = registered["registerWebhook"]
    assert len(registration["secret"]) == 64
    listed = (await alice.data("{ webhooks { id url } }"))["webhooks"]
    assert listed == [{"id": registration["webhook"]["id"], "url": "https://93.184.215.14/hook"}]
    for url in (
        "ftp://example.com/x",
        "http://127.0.0.1:9000/x",
        "http://10.0.0.8/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://169.254.169.254/latest",
    ):
        error = await alice.error(
            "mutation($u: String!) { registerWebhook(url: $u) { secret } }", {"u": url}
        )
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["message"].startswith(
            "url"
        )
    await alice.data(f'mutation {{ deleteWebhook(id: "{registration["webhook"]["id"]}") }}')
    assert (await alice.data("{ webhooks { id } }"))["webhooks"] == []


async def test_a_new_user_has_no_notifications(carol: GraphQLClient) -> None:
    # Notifications live in the notifications service: this runs against the whole system.
    alice = carol
    # The audit trail has its own tests: tests/e2e/test_audit_flow.py.
    data = await alice.data(
        "{ notifications { totalCount edges { cursor } pageInfo { hasNextPage } } }"
    )
    assert data["notifications"]["edges"] == []
