"""Local tooling: embedded PostgreSQL, Kafka and daprd runners, `stack up`.

An extra for running Taskstream on one machine; no service imports it.
"""

from devstack._common import LocalInfraError, cache_dir
from devstack.daprd import Daprd, ensure_daprd
from devstack.kafka import KafkaBroker, ensure_kafka

__all__ = ["Daprd", "KafkaBroker", "LocalInfraError", "cache_dir", "ensure_daprd", "ensure_kafka"]
