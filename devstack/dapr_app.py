"""An app and its real daprd inside the current process: for the contract suite and the bench.

Dapr reads an app's subscriptions once, when its sidecar starts (GET /dapr/subscribe). A test
subscribes its own fresh topics, so `SidecarOnSubscribe` starts the app server and a fresh
sidecar when subscribe() is called, with an app id (= Kafka consumer group) of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import Sequence
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp

from devstack._common import free_port
from devstack.dapr_resources import DaprResources
from devstack.daprd import Daprd
from taskstream.messaging.bus import BulkSubscribe, Subscription, dead_letter_topic
from taskstream.messaging.dapr import DaprTransport
from taskstream.messaging.kafka import KafkaOptions, KafkaTransport
from taskstream.messaging.retry import RetryPolicy


class AppServer:
    """An ASGI app served by uvicorn on 127.0.0.1 in the running event loop."""

    def __init__(self, app: ASGIApp, *, port: int | None = None) -> None:
        self.port = port or free_port()
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                lifespan="off",
                ws="none",
            )
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen; returns once the port accepts connections."""
        self._task = asyncio.create_task(self._server.serve(), name=f"app-server-{self.port}")
        # uvicorn exposes readiness only as a flag, so poll it briefly.
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError(f"could not listen on 127.0.0.1:{self.port}")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop listening and wait for the server task."""
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None


class SidecarOnSubscribe(DaprTransport):
    """A DaprTransport whose app routes and daprd start when it subscribes (once)."""

    def __init__(
        self,
        kafka_brokers: str,
        resources: DaprResources,
        *,
        app_id: str | None = None,
        partitions: int = 3,
        work_dir: Path | None = None,
        bulk: BulkSubscribe | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.dapr_http_port = free_port()
        super().__init__(
            app_id=app_id or f"contract-{uuid.uuid4().hex[:8]}",
            dapr_http=f"http://127.0.0.1:{self.dapr_http_port}",
            api_token=secrets.token_urlsafe(16),
            app_token=secrets.token_urlsafe(16),
            bulk=bulk,
            policy=policy,
        )
        self.kafka_brokers = kafka_brokers
        self.resources = resources
        self.partitions = partitions
        self.work_dir = work_dir
        self.server: AppServer | None = None
        self.sidecar: Daprd | None = None

    async def subscribe(self, subscriptions: Sequence[Subscription]) -> None:
        """Record the subscriptions, then start the app server and its sidecar."""
        if self.sidecar is not None:
            raise RuntimeError("Dapr reads subscriptions once: subscribe() before the sidecar")
        await super().subscribe(subscriptions)
        # Topics with several partitions, so that per-key order is really exercised.
        topics = {s.topic for s in subscriptions}
        await KafkaTransport(
            KafkaOptions(self.kafka_brokers, partitions=self.partitions), app_id=self.app_id
        ).ensure_topics(topics | {dead_letter_topic(t) for t in topics})
        self.server = AppServer(Starlette(routes=self.routes()))
        await self.server.start()
        assert self.api_token is not None and self.app_token is not None
        env = {"DAPR_API_TOKEN": self.api_token, "APP_API_TOKEN": self.app_token}
        self.sidecar = Daprd(
            self.app_id,
            app_port=self.server.port,
            resources_paths=[self.resources.resources_dir],
            config_path=self.resources.config_path,
            dapr_http_port=self.dapr_http_port,
            wait_for_app=True,
            work_dir=self.work_dir,
            log_level="warn",
            env=env,
        )
        await asyncio.to_thread(self.sidecar.start)

    async def close(self) -> None:
        """Stop the sidecar, then the app server, then the HTTP client."""
        if self.sidecar is not None:
            await asyncio.to_thread(self.sidecar.stop)
        if self.server is not None:
            await self.server.stop()
        await super().close()
