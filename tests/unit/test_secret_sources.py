"""Where a service's secrets come from: the sidecar's store when one is named, else the env."""

from __future__ import annotations

import socket

import pytest
from pydantic import SecretStr

from taskstream.secrets import SecretsUnavailable, load_secrets, reads_secret_store
from taskstream.settings import Settings


def under_dapr(store: str) -> Settings:
    """Settings of a service beside a sidecar that is not there (a closed loopback port)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return Settings().model_copy(
        update={
            "bus_url": "dapr://127.0.0.1:3500?pubsub=pubsub",
            "dapr_http_port": port,
            "secret_store": store,
            "database_url": "postgresql://app@db:5432/app",
            "jwt_secret": SecretStr("k" * 40),
        }
    )


def test_no_store_named_keeps_the_environments_secrets() -> None:
    """The Helm chart's case: the values are env from secretKeyRef; no sidecar is asked."""
    settings = under_dapr("")
    assert not reads_secret_store(settings)
    assert load_secrets(settings, wait_seconds=0) is settings


def test_a_named_store_is_asked_and_its_absence_is_an_error() -> None:
    """`stack up`'s case: the local-file store must answer, or the service does not start."""
    settings = under_dapr("secretstore")
    assert reads_secret_store(settings)
    with pytest.raises(SecretsUnavailable, match="did not answer"):
        load_secrets(settings, wait_seconds=0)


def test_outside_dapr_no_store_is_asked() -> None:
    settings = under_dapr("secretstore").model_copy(update={"bus_url": "memory://"})
    assert not reads_secret_store(settings)
    assert load_secrets(settings, wait_seconds=0) is settings
