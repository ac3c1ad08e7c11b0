"""Render infra/dapr (components, Resiliency, Configuration) into a per-run directory.

The YAML in infra/dapr is the one source of the self-hosted Dapr setup; it has `${NAME}`
placeholders for what differs per run (Kafka addresses, the secrets file, the name-resolution
database, retry settings). `taskstream stack up` and the test fixtures render it here.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

DAPR_DIR = Path(__file__).resolve().parents[1] / "infra" / "dapr"
COMPONENTS = ("pubsub", "statestore", "secretstore")


@dataclass(frozen=True, slots=True)
class PubsubRetries:
    """The inbound pub/sub retry policy: how a RETRY is retried before the dead-letter topic."""

    max_retries: int = 10
    initial_interval: str = "500ms"
    max_interval: str = "30s"


@dataclass(frozen=True, slots=True)
class DaprResources:
    """A rendered run: the folder for --resources-path and the file for --config."""

    resources_dir: Path
    config_path: Path


def render_template(source: Path, values: Mapping[str, str]) -> str:
    """The file's text with every `${NAME}` replaced; KeyError names a missing value."""
    return string.Template(source.read_text(encoding="utf-8")).substitute(values)


def render_dapr_resources(
    target: Path,
    *,
    kafka_brokers: str,
    name_resolution_db: Path,
    secrets_file: Path | None = None,
    components: Sequence[str] = COMPONENTS,
    retries: PubsubRetries | None = None,
    otlp_endpoint: str | None = None,
    consumer_fetch_min: int = 1,
) -> DaprResources:
    """Write the chosen components, the Resiliency and the Configuration under `target`.

    `consumer_fetch_min`: the bytes a sidecar's Kafka fetch waits for (at most 500 ms); 1 for
    sidecars whose app must see each event at once, more for apps that take bulks.
    `otlp_endpoint` (HOST:PORT of an OTLP/HTTP receiver, `stack up --tracing`): the sidecars
    export their spans there too, so the hops through Dapr are in the services' traces.
    """
    retries = retries or PubsubRetries()
    if "statestore" in components and "secretstore" not in components:
        raise ValueError("the statestore reads its connection string from the secretstore")
    values = {
        "KAFKA_BROKERS": kafka_brokers,
        "NAME_RESOLUTION_DB": str(name_resolution_db),
        "SECRETS_FILE": str(secrets_file or ""),
        "PUBSUB_MAX_RETRIES": str(retries.max_retries),
        "PUBSUB_RETRY_INTERVAL": retries.initial_interval,
        "PUBSUB_RETRY_MAX_INTERVAL": retries.max_interval,
        "CONSUMER_FETCH_MIN": str(consumer_fetch_min),
    }
    if "secretstore" in components and secrets_file is None:
        raise ValueError("the secretstore component needs a secrets file")
    resources = target / "resources"
    resources.mkdir(parents=True, exist_ok=True)
    for name in components:
        rendered = render_template(DAPR_DIR / "components" / f"{name}.yaml", values)
        (resources / f"{name}.yaml").write_text(rendered, encoding="utf-8")
    (resources / "resiliency.yaml").write_text(
        render_template(DAPR_DIR / "resiliency.yaml", values), encoding="utf-8"
    )
    config = target / "config.yaml"
    rendered = render_template(DAPR_DIR / "config.yaml", values)
    if otlp_endpoint is not None:
        rendered = with_otlp_exporter(rendered, otlp_endpoint)
    config.write_text(rendered, encoding="utf-8")
    return DaprResources(resources, config)


def state_connection_string(database_url: str) -> str:
    """A database URL as the pgx connection string Dapr's state.postgresql reads."""
    from urllib.parse import quote

    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    ssl = "disable" if url.host in ("127.0.0.1", "localhost") else "prefer"
    password = f":{quote(url.password, safe='')}" if url.password else ""
    return (
        f"postgres://{quote(url.username or 'postgres', safe='')}{password}"
        f"@{url.host or '127.0.0.1'}:{url.port or 5432}/{url.database}?sslmode={ssl}"
    )


TRACING_ANCHOR = "    stdout: false\n"


def with_otlp_exporter(config: str, endpoint: str) -> str:
    """The Configuration with its tracing exported over OTLP/HTTP to HOST:PORT."""
    if TRACING_ANCHOR not in config:
        raise ValueError("infra/dapr/config.yaml has no `tracing.stdout: false` to extend")
    exporter = (
        f"    otel:\n      endpointAddress: {endpoint!r}\n      isSecure: false\n"
        "      protocol: http\n"
    )
    return config.replace(TRACING_ANCHOR, TRACING_ANCHOR + exporter, 1)
