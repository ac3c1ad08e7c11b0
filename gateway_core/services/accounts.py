"""Sign-up, log-in and the account's sessions: log-out, password change, deletion."""

from __future__ import annotations

import uuid
from datetime import datetime

from contracts.events import UserDeleted
from gateway_core.domain.model import Task
from gateway_core.domain.users import (
    PASSWORD_MAX,
    PASSWORD_MIN,
    User,
    check_password,
    email_key,
    new_user,
)
from gateway_core.persistence.sessions import SessionRepository
from gateway_core.persistence.uow import UnitOfWork
from taskstream.auth import DUMMY_HASH, PasswordHashing, TokenClaims, TokenService
from taskstream.errors import Conflict, InvalidInput, Unauthenticated
from taskstream.recurrence import validate_timezone

# The answer to a wrong password, at logIn and wherever a password is asked for again.
WRONG_CREDENTIALS = "email or password is wrong"

# For callers that bring no limit of their own (the gateway passes its configured one).
_DEFAULT_HASHING = PasswordHashing(concurrency=4)


async def sign_up(
    *,
    uow: UnitOfWork,
    tokens: TokenService,
    email: str,
    password: str,
    timezone: str | None,
    hashing: PasswordHashing | None = None,
) -> tuple[str, User]:
    """Create an account and return a token for it; CONFLICT when the email is taken."""
    user = new_user(email=email, timezone=timezone)
    check_password(password)
    password_hash = await (hashing or _DEFAULT_HASHING).hash(password)
    async with uow:
        await uow.users.add(user, password_hash)
        await uow.commit()
    return tokens.issue(user.id), user


async def log_in(
    *,
    uow: UnitOfWork,
    tokens: TokenService,
    email: str,
    password: str,
    hashing: PasswordHashing | None = None,
) -> tuple[str, User]:
    """A token for the account with these credentials; UNAUTHENTICATED otherwise."""
    if not email.strip():
        raise InvalidInput("email", "must not be empty")
    async with uow:
        found = await uow.users.credentials(email_key(email))
    stored_hash = found[1] if found else DUMMY_HASH
    matches = await (hashing or _DEFAULT_HASHING).verify(stored_hash, password)
    if found is None or not matches:
        raise Unauthenticated(WRONG_CREDENTIALS)
    async with uow:
        generation = await SessionRepository(uow.connection).generation(found[0].id)
    return tokens.issue(found[0].id, generation=generation), found[0]


async def change_timezone(*, uow: UnitOfWork, user_id: uuid.UUID, timezone: str) -> User:
    """Set the user's IANA time zone (new recurrences and reminders default to it)."""
    validate_timezone(timezone, field="timezone")
    async with uow:
        await uow.users.set_timezone(user_id, timezone)
        user = await uow.users.get(user_id)
        await uow.commit()
    if user is None:
        raise Unauthenticated("the token's account no longer exists")
    return user


async def log_out(*, uow: UnitOfWork, claims: TokenClaims) -> int | None:
    """Revoke the one token these claims come from; the new generation if all had to go."""
    generation = None
    async with uow:
        sessions = SessionRepository(uow.connection)
        if claims.jti is None:
            # A token without an id cannot be revoked alone: end the whole generation.
            generation = await sessions.next_generation(claims.user_id)
        else:
            await sessions.revoke(
                user_id=claims.user_id, jti=claims.jti, expires_at=claims.expires_at
            )
        await uow.commit()
    return generation


async def log_out_everywhere(*, uow: UnitOfWork, user_id: uuid.UUID) -> int:
    """Revoke every token of the account issued so far; the account's new generation."""
    async with uow:
        generation = await SessionRepository(uow.connection).next_generation(user_id)
        await uow.commit()
    return generation


async def _check_current_password(
    uow: UnitOfWork, user_id: uuid.UUID, password: str, hashing: PasswordHashing | None
) -> None:
    """UNAUTHENTICATED (as at logIn) unless `password` is the account's password."""
    async with uow:
        stored = await SessionRepository(uow.connection).password_hash(user_id)
    matches = await (hashing or _DEFAULT_HASHING).verify(stored or DUMMY_HASH, password)
    if stored is None or not matches:
        raise Unauthenticated(WRONG_CREDENTIALS)


async def change_password(
    *,
    uow: UnitOfWork,
    tokens: TokenService,
    user_id: uuid.UUID,
    current_password: str,
    new_password: str,
    hashing: PasswordHashing | None = None,
) -> tuple[str, User, int]:
    """Set a new password and revoke every token: a fresh token, the account, its generation."""
    if not PASSWORD_MIN <= len(new_password) <= PASSWORD_MAX:
        raise InvalidInput("newPassword", f"must be {PASSWORD_MIN} to {PASSWORD_MAX} characters")
    await _check_current_password(uow, user_id, current_password, hashing)
    password_hash = await (hashing or _DEFAULT_HASHING).hash(new_password)
    async with uow:
        sessions = SessionRepository(uow.connection)
        await sessions.set_password_hash(user_id, password_hash)
        generation = await sessions.next_generation(user_id)
        user = await uow.users.get(user_id)
        await uow.commit()
    if user is None:
        raise Unauthenticated("the token's account no longer exists")
    return tokens.issue(user_id, generation=generation), user, generation


async def delete_account(
    *,
    uow: UnitOfWork,
    user_id: uuid.UUID,
    password: str,
    now: datetime,
    hashing: PasswordHashing | None = None,
) -> None:
    """Delete the account and its data here; the deletion event makes every service follow."""
    await _check_current_password(uow, user_id, password, hashing)
    async with uow:
        await uow.projects.lock_user(user_id)
        await _leave_every_project(uow, user_id, now)
        await SessionRepository(uow.connection).delete_account(user_id)
        uow.record(UserDeleted(user_id=user_id), at=now)
        await uow.commit()


async def _leave_every_project(uow: UnitOfWork, user_id: uuid.UUID, now: datetime) -> None:
    """Take the account out of its projects before it goes, losing nothing of the others.

    CONFLICT while it is the only OWNER of a project with other members (hand ownership over
    or delete the project first). A project it is the last member of goes with its tasks
    (each with its TaskDeleted event). In the others it leaves (MemberRemoved), its
    assignments are taken off (TaskUpdated), and the tasks it created there stay, handed to
    an owner of the project (TaskUpdated with the owner before and after).
    """
    for project_id in await uow.projects.project_ids_of(user_id):
        project = await uow.projects.get(project_id)
        others = [m for m in project.members if m != user_id]
        if others and project.owners() == [user_id]:
            raise Conflict(
                f"your account is the only OWNER of project {project_id!s} "
                f"({project.name!r}), which has other members; make another member OWNER or "
                "delete the project first"
            )
        if not others:
            for task in deepest_first(await uow.tasks.all_in_project(project_id)):
                task.delete(now=now)
                await uow.tasks.remove(task)
            project.leave(user_id=user_id, now=now)
            await uow.projects.save(project)
            continue
        heir = sorted(
            (project.members[m] for m in project.owners() if m != user_id),
            key=lambda member: (member.added_at, str(member.user_id)),
        )[0].user_id
        project.leave(user_id=user_id, now=now)
        await uow.projects.save(project)
        for task in await uow.tasks.assigned_in_project(project_id, user_id):
            task.unassign(now=now)
            await uow.tasks.save(task)
        for task in await uow.tasks.created_in_project(project_id, user_id):
            task.hand_over(heir, now=now)
            await uow.tasks.save(task)


def deepest_first(tasks: list[Task]) -> list[Task]:
    """The tasks ordered so that a subtask comes before its parent (a parent's row cannot go
    while a subtask still points at it)."""
    by_id = {task.id: task for task in tasks}

    def depth(task: Task) -> int:
        levels, parent = 0, task.parent_id
        while parent in by_id:
            levels, parent = levels + 1, by_id[parent].parent_id
        return levels

    return sorted(tasks, key=depth, reverse=True)
