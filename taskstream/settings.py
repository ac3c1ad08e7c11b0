"""The one typed reader of the environment: every setting Taskstream has, with its default."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration of every service, read from `TASKSTREAM_*` variables and `DATABASE_URL`."""

    model_config = SettingsConfigDict(env_prefix="TASKSTREAM_", extra="ignore", frozen=True)

    env: Literal["development", "test", "production"] = "production"
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    data_dir: Path = Path("./data")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # /metrics has a listener of its own, never the public port; loopback unless told (the
    # Helm chart binds all interfaces behind a NetworkPolicy). Port 0: any free port.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9464, ge=0, le=65535)

    jwt_secret: SecretStr | None = Field(default=None, min_length=32)
    jwt_issuer: str = "taskstream"
    jwt_audience: str = "taskstream-api"
    token_ttl_seconds: int = Field(default=7 * 24 * 3600, gt=0)

    smtp_url: str | None = None
    audit_retention_days: int = Field(default=365, gt=0)
    webhook_allow_private: bool = False
    smtp_from: str = "taskstream@localhost"
    # Per-channel delivery retries: attempt n waits retry_seconds * 2**(n-1), capped.
    notification_max_attempts: int = Field(default=6, ge=1)
    notification_retry_seconds: float = Field(default=5.0, gt=0)
    notification_retry_max_seconds: float = Field(default=600.0, gt=0)

    db_pool_size: int = Field(default=10, ge=1)
    graphql_max_depth: int = 10
    graphql_max_aliases: int = 30
    graphql_max_tokens: int = 5000
    # Larger POST bodies to /graphql are refused with 413 before they are parsed.
    graphql_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    login_attempts_per_minute: int = Field(default=10, ge=1)
    login_attempts_per_address_per_minute: int = Field(default=60, ge=1)
    mutations_per_minute: int = Field(default=600, ge=1)

    bus_url: str = "memory://"
    # Fans live updates out to every gateway replica: memory:// in one process,
    # postgresql://... (LISTEN/NOTIFY) across processes; "database" means DATABASE_URL's.
    broadcast_url: str = "memory://"
    live_queue_size: int = Field(default=256, ge=1)
    ws_init_timeout_seconds: float = Field(default=10.0, gt=0)
    # Dapr's own variables, as daprd and the Dapr tooling name them.
    dapr_http_port: int = Field(default=3500, validation_alias="DAPR_HTTP_PORT")
    dapr_api_token: SecretStr | None = Field(default=None, validation_alias="DAPR_API_TOKEN")
    app_api_token: SecretStr | None = Field(default=None, validation_alias="APP_API_TOKEN")
    pubsub_name: str = "pubsub"
    # Dapr bulk subscribe: the sidecar delivers up to max_messages of a partition in one request,
    # waiting at most max_await_ms to fill it (semantics: taskstream/messaging/dapr.py).
    dapr_bulk_subscribe: bool = False
    dapr_bulk_max_messages: int = Field(default=500, ge=1)
    dapr_bulk_max_await_ms: int = Field(default=50, ge=1)
    secret_store: str = "secretstore"
    # How long a consumer remembers an event id it applied (its processed_events rows), so a
    # redelivery is skipped. Kafka and Dapr redeliver within minutes (a rebalance, a crash
    # before the offset commit, retries); a dead letter replayed by hand comes within days.
    # A week is far beyond both, and still keeps the tables from growing forever.
    processed_events_retention_hours: int = Field(default=7 * 24, gt=0)
    outbox_relay: bool = True
    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    log_level: str = "INFO"
    log_json: bool = True

    @property
    def live_broadcast_url(self) -> str:
        """The broadcast URL, with "database" resolved to the service's own PostgreSQL."""
        if self.broadcast_url != "database":
            return self.broadcast_url
        if self.database_url is None:
            raise ValueError("TASKSTREAM_BROADCAST_URL=database needs DATABASE_URL")
        rest = self.database_url.partition("://")[2]
        return f"postgresql://{rest}"

    @property
    def is_production(self) -> bool:
        """True when introspection and the GraphQL IDE must be off."""
        return self.env == "production"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, read once per process."""
    return Settings()
