"""Where secrets come from: the Dapr secret store under Dapr, the environment otherwise.

Settings stays the only reader of the environment; under Dapr (a dapr:// bus URL) this module
replaces the JWT signing key and the database URL in it with the values of the sidecar's secret
store (GET /v1.0/secrets/<store>/<key>), so neither needs to be in a service's environment.
That is `stack up`'s local-file store, whose keys are SECRET_KEYS. On Kubernetes the Helm chart
sets TASKSTREAM_SECRET_STORE to "" (no store): there a key of the `kubernetes` store is a Secret's
name, not one of these keys, and the chart already injects the values as env by secretKeyRef.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from taskstream.invocation import APP_TOKEN_HEADER
from taskstream.settings import Settings

# Setting -> key in the secret store (`stack up`'s local-file store; the Helm chart's Secret has
# other key names and reaches the services as env, see the module docstring).
SECRET_KEYS = {"jwt_secret": "jwt-signing-key", "database_url": "database-url"}
# Taken from the store when it has them; the setting's own fallback applies otherwise.
OPTIONAL_SECRET_KEYS = {
    "audit_key": "audit-signing-key",
    "vapid_private_key": "vapid-private-key",
}


class SecretsUnavailable(RuntimeError):
    """The secret store did not give a secret the service needs."""


def under_dapr(settings: Settings) -> bool:
    """True when the service runs beside a Dapr sidecar (its bus is dapr://)."""
    return urlsplit(settings.bus_url).scheme == "dapr"


def reads_secret_store(settings: Settings) -> bool:
    """True when the secrets come from the sidecar's store: under Dapr, with a store named."""
    return under_dapr(settings) and bool(settings.secret_store)


def load_secrets(settings: Settings, *, wait_seconds: float = 60.0) -> Settings:
    """Settings with the secrets of the Dapr secret store under Dapr; unchanged otherwise.

    Unchanged too when no store is named (TASKSTREAM_SECRET_STORE=""): the environment holds them.
    The sidecar may still be starting when the service starts (and answers 500 until its store
    is loaded), so requests are retried for up to `wait_seconds`; a refused token fails at once.
    """
    if not reads_secret_store(settings):
        return settings
    headers = {}
    if settings.dapr_api_token is not None:
        headers[APP_TOKEN_HEADER] = settings.dapr_api_token.get_secret_value()
    base = f"http://127.0.0.1:{settings.dapr_http_port}/v1.0/secrets/{settings.secret_store}"
    updates: dict[str, Any] = {}
    with httpx.Client(base_url=base, headers=headers, timeout=5.0) as client:
        for field, key in SECRET_KEYS.items():
            value = _fetch(client, key, deadline=time.monotonic() + wait_seconds)
            updates[field] = SecretStr(value) if field == "jwt_secret" else value
        # The store answered for the required keys above: it is loaded, so one try suffices.
        for field, key in OPTIONAL_SECRET_KEYS.items():
            response = client.get(f"/{key}")
            found = response.json().get(key) if response.status_code == 200 else None
            if isinstance(found, str) and found:
                updates[field] = SecretStr(found)
    return settings.model_copy(update=updates)


def _fetch(client: httpx.Client, key: str, *, deadline: float) -> str:
    while True:
        try:
            response = client.get(f"/{key}")
        except httpx.TransportError as error:
            if time.monotonic() > deadline:
                raise SecretsUnavailable(f"the Dapr sidecar did not answer: {error}") from error
            time.sleep(0.2)
            continue
        if response.status_code == 200:
            value = response.json().get(key)
            if isinstance(value, str) and value:
                return value
        # The sidecar answers 500 both for a missing secret and while its store is loading.
        if time.monotonic() > deadline or response.status_code in (401, 403):
            raise SecretsUnavailable(
                f"secret {key!r}: the Dapr secret store answered {response.status_code}"
            )
        time.sleep(0.2)
