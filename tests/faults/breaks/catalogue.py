"""The breaks the fault suite can put inside a service, each undoing one protection.

Each break replaces ONE named function of a service's code, in that service's process only,
when the module defining it is imported (see sitecustomize.py: no production code knows of
this). Run a scenario with `TASKSTREAM_FAULTS_BREAK_IN_SERVICE=<name>`; the scenario must then
fail on the invariant the break names. Each patched service prints
`taskstream-faults: break <name> patched <module>:<attribute>` to its log, and the harness
refuses to run until it has seen that line in every service the break names.

Only the standard library is imported here at module level: this runs at interpreter
start-up, before the service has set anything up.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

MARKER = "taskstream-faults: break"


@dataclass(frozen=True)
class Break:
    """One function to replace, in which services, and what must catch it."""

    module: str
    attribute: str  # "function" or "Class.method"
    services: tuple[str, ...]
    # Given the module (executed) and the original function, the function to put instead.
    replacement: Callable[[ModuleType, Any], Any]
    turns_off: str
    caught_by: str


def say(text: str) -> None:
    """One line in the service's log (its stderr), for the harness and whoever reads it."""
    print(f"{MARKER} {text}", file=sys.stderr, flush=True)


def _publish_failure_ignored(module: ModuleType, original: Any) -> Any:
    """DaprTransport.publish that reports success when the sidecar refused or was unreachable:
    the outbox relay then marks the rows published and never retries them."""

    async def publish(self: Any, messages: Sequence[Any]) -> None:
        try:
            await original(self, messages)
        except module.PublishError as error:
            say(f"publish-failure-ignored: {len(messages)} events dropped ({error})")

    return publish


def _due_by_wall_clock(module: ModuleType, original: Any) -> Any:
    """FiringLoop.fire_due deciding what is due by the service's own wall clock instead of
    PostgreSQL's `now()` (the rest as in workers/notifications/firing.py)."""
    schedule, select = module.schedule, module.select

    async def fire_due(self: Any) -> int:
        wall_clock = datetime.now(UTC)
        async with self.engine.begin() as connection:
            rows = (
                await connection.execute(
                    select(
                        schedule.c.reminder_id,
                        schedule.c.user_id,
                        schedule.c.recipient_id,
                        schedule.c.task_id,
                        schedule.c.remind_at,
                        schedule.c.channels,
                        schedule.c.generation,
                    )
                    .where(schedule.c.state == "SCHEDULED", schedule.c.remind_at <= wall_clock)
                    .order_by(schedule.c.remind_at)
                    .limit(self.batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if rows:
                say(f"due-by-wall-clock: {len(rows)} fired at wall clock {wall_clock.isoformat()}")
                await self._queue(connection, rows)
        return len(rows)

    return fire_due


def _commit_cancellable(module: ModuleType, original: Any) -> Any:
    """_committed without its shield: the request deadline may cancel the wait while COMMIT
    (or the statement that is one) is on its way, and the client is told TIMEOUT, "nothing was
    changed"."""

    async def committed(commit: Any) -> None:
        try:
            await commit
        except Exception as error:
            # Kept from the original: only the shield is taken away.
            if module.is_database_unavailable(error):
                raise module.Unavailable(committing=True) from error
            raise

    return committed


BREAKS: dict[str, Break] = {
    "publish-failure-ignored": Break(
        "taskstream.messaging.dapr",
        "DaprTransport.publish",
        ("notifications",),
        _publish_failure_ignored,
        turns_off="the outbox relay's retry of a publish the sidecar could not deliver",
        caught_by="lost: the events of the failed publish (audit of ... sent, reminder.due of)",
    ),
    "due-by-wall-clock": Break(
        "workers.notifications.firing",
        "FiringLoop.fire_due",
        ("notifications",),
        _due_by_wall_clock,
        turns_off="deciding what is due by PostgreSQL's clock",
        caught_by="fired early: a notification stored before its reminder's remindAt",
    ),
    "commit-cancellable": Break(
        "gateway_core.persistence.uow",
        "_committed",
        ("gateway-1", "gateway-2"),
        _commit_cancellable,
        turns_off="letting a COMMIT on its way finish before the deadline's answer",
        caught_by="told 'TIMEOUT: ... nothing was changed' but committed",
    ),
}


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Finds the break's module like the other finders, and patches it once it has run."""

    def __init__(self, name: str, broken: Break) -> None:
        self.name = name
        self.broken = broken

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """The module's own spec, with a loader that patches after executing it."""
        if fullname != self.broken.module:
            return None
        sys.meta_path.remove(self)  # once: the next lookup is the real one
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader: Any = spec.loader
        execute = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            execute(module)
            self.patch(module)

        loader.exec_module = exec_module
        return spec

    def patch(self, module: ModuleType) -> None:
        """Replace the break's attribute in the executed module."""
        *owners, attribute = self.broken.attribute.split(".")
        holder: Any = module
        for owner in owners:
            holder = getattr(holder, owner)
        original = getattr(holder, attribute)
        setattr(holder, attribute, self.broken.replacement(module, original))
        say(f"{self.name} patched {self.broken.module}:{self.broken.attribute}")


def install(name: str) -> None:
    """Patch the named break's function when its module is imported (at start-up)."""
    broken = BREAKS.get(name)
    if broken is None:
        # A typo must not run the scenario unbroken and call that a result.
        raise SystemExit(f"{MARKER} {name!r} is unknown; known: {', '.join(sorted(BREAKS))}")
    if broken.module in sys.modules:
        raise SystemExit(f"{MARKER} {name}: {broken.module} was imported before the hook")
    sys.meta_path.insert(0, _PatchOnImport(name, broken))
    say(f"{name} installed at start-up")
