"""The one typed reader of the environment: every setting Taskstream has, with its default."""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Network = IPv4Network | IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """Comma-separated addresses or CIDRs; ValueError naming the entry that is neither."""
    networks = []
    for part in text.split(","):
        entry = part.strip()
        if not entry:
            continue
        try:
            networks.append(ip_network(entry, strict=False))
        except ValueError as error:
            raise ValueError(f"{entry!r} is not an IP address or CIDR") from error
    return tuple(networks)


class Settings(BaseSettings):
    """Configuration of every service, read from `TASKSTREAM_*` variables and `DATABASE_URL`."""

    model_config = SettingsConfigDict(env_prefix="TASKSTREAM_", extra="ignore", frozen=True)

    env: Literal["development", "test", "production"] = "production"
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    # Where `taskstream up` keeps its data (PostgreSQL, secrets); `--data-dir` wins over it.
    data_dir: Path | None = None
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
    # Signs audit chain heads and checkpoints; derived from jwt_secret when unset.
    audit_key: SecretStr | None = Field(default=None, min_length=32)
    webhook_allow_private: bool = False
    # Web Push (RFC 8292): the VAPID key pair's private half, the raw P-256 scalar in
    # base64url (its public half is derived). Unset: the PUSH channel is off.
    vapid_private_key: SecretStr | None = Field(default=None, min_length=43, max_length=44)
    # Who push services may contact about this server's pushes: a mailto: or https: URL.
    vapid_subject: str = Field(
        default="mailto:taskstream@localhost", pattern=r"^(mailto:|https://)"
    )
    smtp_from: str = "taskstream@localhost"
    # Per-channel delivery retries: attempt n waits retry_seconds * 2**(n-1), capped.
    notification_max_attempts: int = Field(default=6, ge=1)
    notification_retry_seconds: float = Field(default=5.0, gt=0)
    notification_retry_max_seconds: float = Field(default=600.0, gt=0)

    db_pool_size: int = Field(default=20, ge=1)
    # A client's request: every statement under statement_timeout, the whole under
    # request_timeout (code TIMEOUT past either). Workers, relays and internal calls not made
    # for a request get worker_statement_timeout (0: none).
    request_timeout_seconds: float = Field(default=5.0, gt=0)
    statement_timeout_seconds: float = Field(default=3.0, gt=0)
    worker_statement_timeout_seconds: float = Field(default=60.0, ge=0)
    # Password hashes computed at once (each argon2id hash holds 64 MiB and a core).
    password_hash_concurrency: int = Field(default=4, ge=1)
    graphql_max_depth: int = 10
    graphql_max_aliases: int = 30
    graphql_max_tokens: int = 5000
    # Static cost budget of one operation (graphql_schema/cost.py); above it: COST_LIMIT.
    graphql_max_cost: int = Field(default=20_000, ge=1)
    # Query cost points an account gets back per second, in a bucket of five times the budget
    # (the web app re-reads its page on live events: a burst of 60 changes is 100,000 points).
    graphql_cost_per_second: float = Field(default=5_000.0, gt=0)
    # Points an operation's execution costs per millisecond it took (about 50 us of work a
    # point, so 20): where that is far beyond its static cost (graphql_schema/cost.py,
    # MEASURED_SLACK) the difference is taken from the bucket after it ran, as far as the
    # bucket holds, so work the static model cannot see (an exact count over 100,000 rows
    # priced 10 points) is paid for. 0 (the default): static cost only. Off by default because
    # the time is wall time, which includes the network to PostgreSQL: with 400 ms added on
    # that link (tests/faults, the latency fault) ordinary requests emptied their accounts.
    graphql_cost_points_per_ms: float = Field(default=0.0, ge=0)
    # Larger POST bodies to /graphql are refused with 413 before they are parsed.
    graphql_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Automatic persisted queries kept per replica (graphql_schema/persisted.py); 0: off.
    graphql_persisted_queries: int = Field(default=2048, ge=0)
    # The first-party app's documents: a JSON object of SHA-256 to text. Unset: the web
    # app's manifest (web/src/gql/trusted-documents.json, written by its codegen).
    graphql_trusted_documents: Path | None = None
    # Anonymous callers and ordinary accounts run only those documents (production option).
    graphql_trusted_documents_only: bool = False
    # Comma-separated account ids that may send any document (within the cost budget).
    graphql_open_document_accounts: str = ""

    # Log-in attempts for one account from one address per minute (other addresses unaffected).
    login_attempts_per_minute: int = Field(default=10, ge=1)
    login_attempts_per_address_per_minute: int = Field(default=60, ge=1)
    # Wrong passwords for one account from one address before that pair waits between tries:
    # backoff_seconds, doubling per further failure, at most backoff_max_seconds.
    login_free_failures: int = Field(default=5, ge=1)
    login_backoff_seconds: float = Field(default=1.0, gt=0)
    login_backoff_max_seconds: float = Field(default=900.0, gt=0)
    signups_per_address_per_hour: int = Field(default=30, ge=1)

    # The HTTP edge (taskstream/edge.py): request heads bounded in size and time, idle
    # connections closed, connections per client address and WebSockets per account capped.
    http_max_header_bytes: int = Field(default=32 * 1024, ge=1024)
    http_header_timeout_seconds: float = Field(default=5.0, gt=0)
    http_keepalive_seconds: float = Field(default=5.0, gt=0)
    max_connections_per_address: int = Field(default=200, ge=1)
    max_websockets_per_account: int = Field(default=20, ge=1)
    # Comma-separated addresses/CIDRs of reverse proxies whose X-Forwarded-For / Forwarded
    # headers name the client. Empty: nobody's; the socket's peer is the client.
    trusted_proxies: str = ""
    # Addresses/CIDRs of TCP proxies whose PROXY protocol v1 line names the client (stack up).
    proxy_protocol_from: str = ""
    mutations_per_minute: int = Field(default=600, ge=1)
    # Share of a query-cost or mutation budget a replica may reserve at once and spend without
    # the shared store while the bucket is more than half full (0: every request asks the store).
    rate_limit_lease_fraction: float = Field(default=0.05, ge=0, le=0.25)
    # How long a reserved slice lasts unless topped up (a top-up starts once half of it has
    # passed); unspent points then wait to go back with the replica's next store visit for
    # the key. The bounds of taskstream/ratelimit.py do not depend on it; each renewal is a
    # store visit, so an account active every few seconds costs the store one visit per 30 s
    # per budget and replica (bench/cycle_cpu: 1 s cost 7-17 ms more per cycle than 10 s;
    # under push load 10 s still cost 2-4 ms of CPU per mutation more than 60 s).
    rate_limit_lease_seconds: float = Field(default=60.0, gt=0, le=60)
    # Where limits, persisted documents and idempotency keys are shared by every replica
    # (taskstream/sharedstate.py): "dapr" (the sidecar's state store), "database" (a table of
    # the gateway's PostgreSQL), or "auto": dapr when TASKSTREAM_BUS_URL is dapr://, else database.
    shared_state: Literal["auto", "database", "dapr"] = "auto"
    # The Dapr state store component used for it.
    state_store_name: str = "statestore"
    # How long a mutation's Idempotency-Key (and its stored response) is remembered.
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    # How long an automatically persisted document is kept after its last registration.
    graphql_persisted_query_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)

    bus_url: str = "memory://"
    # Fans live updates out to every gateway replica: memory:// in one process,
    # postgresql://... (LISTEN/NOTIFY) across processes; "database" means DATABASE_URL's.
    broadcast_url: str = "memory://"
    live_queue_size: int = Field(default=256, ge=1)
    # How long a replica trusts a remembered project membership at delivery when it heard of
    # no change (a removal's broadcast lost): a removed member's events stop within it.
    live_membership_ttl_seconds: float = Field(default=5.0, gt=0, le=300)
    ws_init_timeout_seconds: float = Field(default=10.0, gt=0)
    # Dapr's own variables, as daprd and the Dapr tooling name them.
    dapr_http_port: int = Field(default=3500, validation_alias="DAPR_HTTP_PORT")
    dapr_api_token: SecretStr | None = Field(default=None, validation_alias="DAPR_API_TOKEN")
    app_api_token: SecretStr | None = Field(default=None, validation_alias="APP_API_TOKEN")
    pubsub_name: str = "pubsub"
    # Dapr bulk subscribe: the sidecar delivers up to max_messages of a partition in one request,
    # waiting at most max_await_ms to fill it (semantics: taskstream/messaging/dapr.py). Only
    # the workers take bulks (the gateway's live pushes must not wait). Half a second: a
    # delivery costs the worker and its sidecar ~3 ms whatever it holds, so at tens of events/s
    # 50 ms made nearly one delivery per event (bench/cycle_cpu, alternated: the workers and
    # their sidecars 12-15 ms per create+complete cycle at 50 ms, 5 ms at 500); the next
    # instance of a recurring task stays well inside its 2 s.
    dapr_bulk_subscribe: bool = False
    dapr_bulk_max_messages: int = Field(default=500, ge=1)
    dapr_bulk_max_await_ms: int = Field(default=500, ge=1)
    secret_store: str = "secretstore"
    # How long a consumer remembers an event id it applied (its processed_events rows), so a
    # redelivery is skipped. Kafka and Dapr redeliver within minutes (a rebalance, a crash
    # before the offset commit, retries); a dead letter replayed by hand comes within days.
    # A week is far beyond both, and still keeps the tables from growing forever.
    processed_events_retention_hours: int = Field(default=7 * 24, gt=0)
    # How long a deleted task stays restorable (restoreTask, the web app's Undo); its tombstone
    # is purged after that. Minutes, not days: a tombstone is the user's data kept after they
    # asked to delete it.
    task_restore_window_seconds: int = Field(default=600, ge=10, le=24 * 3600)
    outbox_relay: bool = True
    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    log_level: str = "INFO"
    # Tracing (taskstream/telemetry.py) is on when the standard OTel endpoint is set: spans go
    # to ENDPOINT/v1/traces over OTLP/HTTP, named OTEL_SERVICE_NAME or taskstream-<service>.
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    otel_service_name: str | None = Field(default=None, validation_alias="OTEL_SERVICE_NAME")
    # JSON lines (true), short lines for people (false), or unset: short and coloured when
    # stderr is a terminal, JSON otherwise (containers, files, pipes).
    log_json: bool | None = None

    @property
    def live_broadcast_url(self) -> str:
        """The broadcast URL, with "database" resolved to the service's own PostgreSQL."""
        if self.broadcast_url != "database":
            return self.broadcast_url
        if self.database_url is None:
            raise ValueError("TASKSTREAM_BROADCAST_URL=database needs DATABASE_URL")
        rest = self.database_url.partition("://")[2]
        return f"postgresql://{rest}"

    @field_validator("trusted_proxies", "proxy_protocol_from")
    @classmethod
    def _valid_proxies(cls, value: str) -> str:
        parse_networks(value)
        return value

    @property
    def trusted_proxy_networks(self) -> tuple[Network, ...]:
        """TASKSTREAM_TRUSTED_PROXIES as networks."""
        return parse_networks(self.trusted_proxies)

    @property
    def proxy_protocol_networks(self) -> tuple[Network, ...]:
        """TASKSTREAM_PROXY_PROTOCOL_FROM as networks."""
        return parse_networks(self.proxy_protocol_from)

    @property
    def shared_state_adapter(self) -> Literal["database", "dapr"]:
        """The shared-state adapter these settings choose ("auto" resolved)."""
        if self.shared_state != "auto":
            return self.shared_state
        return "dapr" if self.bus_url.startswith("dapr:") else "database"

    @property
    def is_production(self) -> bool:
        """True when introspection and the GraphQL IDE must be off."""
        return self.env == "production"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, read once per process."""
    return Settings()
