"""Real local infrastructure (Kafka in KRaft mode, the Dapr sidecar) for local runs and tests."""

from taskstream.localinfra._common import LocalInfraError, cache_dir
from taskstream.localinfra.daprd import Daprd, ensure_daprd
from taskstream.localinfra.kafka import KafkaBroker, ensure_kafka

__all__ = ["Daprd", "KafkaBroker", "LocalInfraError", "cache_dir", "ensure_daprd", "ensure_kafka"]
