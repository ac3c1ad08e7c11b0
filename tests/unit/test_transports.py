"""The bus URL and settings pick the transport and its Dapr pub/sub component."""

from __future__ import annotations

import pytest

from taskstream.messaging.dapr import DaprTransport
from taskstream.messaging.transports import open_transport


def test_the_pubsub_setting_names_the_dapr_component() -> None:
    transport = open_transport("dapr://127.0.0.1:3500", app_id="gateway", dapr_pubsub="events")
    assert isinstance(transport, DaprTransport)
    assert transport.pubsub == "events"


def test_the_bus_url_names_the_component_over_the_setting() -> None:
    transport = open_transport(
        "dapr://127.0.0.1:3500?pubsub=from-url", app_id="gateway", dapr_pubsub="events"
    )
    assert isinstance(transport, DaprTransport)
    assert transport.pubsub == "from-url"


def test_an_unknown_scheme_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown scheme 'nats'"):
        open_transport("nats://127.0.0.1:4222", app_id="gateway")
