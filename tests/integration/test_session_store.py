"""The gateway's session store against a real PostgreSQL: deleting an account under load."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_core.persistence.sessions import SessionRepository
from tests.conftest import GraphQLClient

INSERT_TASK = text(
    "INSERT INTO gateway.tasks (id, user_id, title, notes, status, priority, created_at, "
    "updated_at, version) VALUES (:id, :user, 'late', '', 'OPEN', 0, now(), now(), 1)"
)


async def test_a_task_added_while_the_account_is_deleted_goes_with_it(
    alice: GraphQLClient, engine: AsyncEngine
) -> None:
    user_id = uuid.UUID((await alice.data("{ me { id } }"))["me"]["id"])
    # A task being added (the user's request, or the next instance of a series) and not yet
    # committed when the deletion starts.
    async with engine.connect() as adding:
        insert = await adding.begin()
        await adding.execute(INSERT_TASK, {"id": uuid.uuid4(), "user": user_id})

        async def delete() -> None:
            async with engine.connect() as connection, connection.begin():
                pid = await connection.scalar(text("SELECT pg_backend_pid()"))
                deleting_pid.set_result(pid)
                await SessionRepository(connection).delete_account(user_id)

        deleting_pid: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        deletion = asyncio.create_task(delete())
        pid = await deleting_pid
        # Until the deletion waits on the adding transaction's lock.
        async with asyncio.timeout(30):
            while True:
                async with engine.connect() as probe:
                    waiting = await probe.scalar(
                        text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :p"),
                        {"p": pid},
                    )
                if waiting == "Lock":
                    break
                await asyncio.sleep(0.02)
        await insert.commit()
    await deletion
    async with engine.connect() as connection:
        left = await connection.scalar(
            text(
                "SELECT (SELECT count(*) FROM gateway.tasks WHERE user_id = :u) "
                "+ (SELECT count(*) FROM gateway.users WHERE id = :u)"
            ),
            {"u": user_id},
        )
    assert left == 0
