"""The service runtime assembles every service the same way (taskstream/service.py).

Resources (the gateway's live hub) start before the first delivery and stop after the transport
closed; the outbox relay runs exactly when the service has an outbox and the setting is on.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from taskstream.bootstrap import bootstrap
from taskstream.messaging.bus import Message, Outcome, Subscription
from taskstream.messaging.memory import MemoryTransport
from taskstream.service import Service, ServiceParts
from taskstream.settings import Settings
from workers.notifications.tables import outbox as notifications_outbox

pytestmark = pytest.mark.integration


class RecordingTransport(MemoryTransport):
    """An in-process transport that notes when it starts, subscribes and closes."""

    def __init__(self, steps: list[str]) -> None:
        super().__init__()
        self.steps = steps

    async def start(self) -> None:
        self.steps.append("transport started")
        await super().start()

    async def subscribe(self, subscriptions: Sequence[Subscription]) -> None:
        self.steps.append(f"subscribed {sorted(s.topic for s in subscriptions)}")
        await super().subscribe(subscriptions)

    async def close(self) -> None:
        self.steps.append("transport closed")
        await super().close()


async def test_resources_outlive_deliveries_and_the_app_closes_everything_in_order(
    settings: Settings, engine: AsyncEngine
) -> None:
    steps: list[str] = []

    @contextlib.asynccontextmanager
    async def hub() -> AsyncIterator[None]:
        steps.append("hub started")
        yield
        steps.append("hub stopped")

    async def forward(message: Message) -> Outcome:
        return Outcome.SUCCESS

    runtime = bootstrap(
        settings, app_id="probe", engine=engine, transport=RecordingTransport(steps)
    )
    closed: list[bool] = []

    async def recorded_close() -> None:
        closed.append(True)
        # The engine is the test session's: leave it open.
        await runtime.invoker.close()

    runtime.close = recorded_close  # type: ignore[method-assign]
    parts = ServiceParts(
        name="probe",
        subscriptions=[Subscription(topic="probe-topic", group="probe", handler=forward)],
        resources=[hub],
    )
    app = Service(parts, runtime).app()
    async with app.router.lifespan_context(app):
        steps.append("serving")
    assert steps == [
        "hub started",
        "transport started",
        "subscribed ['probe-topic']",
        "serving",
        "transport closed",
        "hub stopped",
    ]
    assert closed == [True]


@pytest.mark.parametrize("relay_on", [True, False])
def test_the_outbox_relay_runs_when_the_service_has_an_outbox_and_it_is_on(
    settings: Settings, engine: AsyncEngine, relay_on: bool
) -> None:
    configured = settings.model_copy(update={"outbox_relay": relay_on})
    runtime = bootstrap(configured, app_id="probe", engine=engine, transport=MemoryTransport())
    with_outbox = Service(ServiceParts(name="probe", outbox=notifications_outbox), runtime)
    without = Service(ServiceParts(name="probe"), runtime)
    relays = [
        loop
        for loop in with_outbox.background()
        if getattr(loop, "__qualname__", "") == "OutboxRelay.run"
    ]
    assert len(relays) == (1 if relay_on else 0)
    assert without.background() == []
