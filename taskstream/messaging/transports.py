"""Picks the transport adapter a bus URL names (memory, kafka, dapr), importing it lazily.

The adapters import the interface in `bus`; this module sits above both, so no import cycle.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from taskstream.messaging.bus import BulkSubscribe, Transport


def open_transport(
    url: str,
    *,
    app_id: str,
    dapr_api_token: str | None = None,
    app_api_token: str | None = None,
    dapr_bulk: BulkSubscribe | None = None,
    dapr_pubsub: str = "pubsub",
) -> Transport:
    """The transport a bus URL names: memory://, kafka://HOST:PORT[,...], dapr://HOST:PORT.

    The tokens matter only to dapr://: the one the sidecar wants, the one it presents to us;
    so do `dapr_bulk` (bulk subscribe, when set) and `dapr_pubsub` (the component's name).
    """
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        from taskstream.messaging.memory import MemoryTransport

        return MemoryTransport.shared(url)
    if scheme == "kafka":
        from taskstream.messaging.kafka import KafkaTransport

        return KafkaTransport.from_url(url, app_id=app_id)
    if scheme == "dapr":
        from taskstream.messaging.dapr import DaprTransport

        return DaprTransport.from_url(
            url,
            app_id=app_id,
            api_token=dapr_api_token,
            app_token=app_api_token,
            bulk=dapr_bulk,
            pubsub=dapr_pubsub,
        )
    raise ValueError(f"TASKSTREAM_BUS_URL: unknown scheme {scheme!r}; use memory, kafka or dapr")
