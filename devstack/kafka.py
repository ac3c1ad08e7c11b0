"""Real Apache Kafka brokers (KRaft, combined broker+controller) for local runs and tests."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from devstack._common import (
    INFRA_DIR,
    LocalInfraError,
    cache_dir,
    free_ports,
    provision,
    read_version,
    spawn,
    tail,
    terminate,
)

POM = INFRA_DIR / "kafka" / "pom.xml"
DEFAULT_JVM_OPTS: tuple[str, ...] = (
    "-Xms128m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
    "-Djava.net.preferIPv4Stack=true",
)


def kafka_version() -> str:
    """Return the Kafka version pinned in infra/local/kafka/pom.xml."""
    return read_version(POM, r"<kafka\.version>\s*([^<\s]+)\s*</kafka\.version>")


def ensure_kafka() -> Path:
    """Return the Kafka home (libs/, config/), provisioning it first if needed."""
    home = cache_dir() / f"kafka-{kafka_version()}"
    complete = (home / ".complete").is_file() and any((home / "libs").glob("kafka_2.13-*.jar"))
    return provision("kafka", "KAFKA_HOME", home, complete)


def find_java() -> str:
    """Return the java executable ($JAVA_HOME/bin/java, then PATH, then /usr/bin/java)."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java") or ("/usr/bin/java" if Path("/usr/bin/java").is_file() else None)
    if found is None:
        raise LocalInfraError("java not found: the Kafka broker needs a Java 17+ runtime")
    return found


def new_cluster_id() -> str:
    """Return a random Kafka cluster id (a base64url UUID without padding)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")


def existing_cluster_id(log_dir: Path) -> str | None:
    """Return the cluster.id recorded in a formatted Kafka log dir, if any."""
    meta = log_dir / "meta.properties"
    if not meta.is_file():
        return None
    for line in meta.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "cluster.id":
            return value.strip()
    return None


def metadata_broker_count(host: str, port: int, timeout: float = 2.0) -> int:
    """Send a Kafka Metadata (v4) request for no topics; return how many brokers are listed."""
    client_id = b"taskstream-localinfra"
    # Request header v1 (api_key=3 Metadata, api_version=4, correlation_id, client_id) + body v4
    # (topics: empty array, allow_auto_topic_creation: false).
    body = struct.pack(">hhih", 3, 4, 1, len(client_id)) + client_id + struct.pack(">ib", 0, 0)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", _recv_exactly(sock, 4))[0]
        data = _recv_exactly(sock, size)
    # Response header v0 (correlation_id) + throttle_time_ms + brokers array length.
    correlation_id, _throttle, broker_count = struct.unpack_from(">iii", data, 0)
    if correlation_id != 1:
        raise LocalInfraError(f"unexpected Kafka correlation id {correlation_id}")
    return int(broker_count)


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    """Read exactly ``size`` bytes from ``sock``."""
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("connection closed by the Kafka broker")
        chunks += chunk
    return bytes(chunks)


class KafkaBroker:
    """A real Kafka cluster of ``node_count`` combined broker+controller JVMs on 127.0.0.1."""

    def __init__(
        self,
        *,
        node_count: int = 1,
        data_dir: Path | None = None,
        ports: Sequence[int] | None = None,
        config: Mapping[str, str] | None = None,
        jvm_opts: Sequence[str] = DEFAULT_JVM_OPTS,
        kafka_home: Path | None = None,
        host: str = "127.0.0.1",
        start_timeout: float = 90.0,
        stop_timeout: float = 30.0,
        extra_listeners: Mapping[str, tuple[int, int]] | None = None,
    ) -> None:
        """Configure the cluster; nothing runs until :meth:`start`.

        ``data_dir`` (default: a temporary dir removed by :meth:`stop`) may be reused across
        runs: its cluster id is kept. ``ports`` fixes the client ports (default: free ports).
        ``extra_listeners`` (one node only) adds plaintext listeners, name -> (port, advertised
        port): a client that bootstraps through a proxy on the advertised port stays on it.
        """
        if node_count < 1:
            raise ValueError("node_count must be >= 1")
        if ports is not None and len(ports) != node_count:
            raise ValueError("ports needs one port per node")
        self._requested_ports = list(ports or [])
        if extra_listeners and node_count != 1:
            raise ValueError("extra_listeners needs a single node")
        self.extra_listeners = dict(extra_listeners or {})
        self.node_count = node_count
        self.host = host
        self.extra_config = dict(config or {})
        self.jvm_opts = list(jvm_opts)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.cluster_id = new_cluster_id()
        self._kafka_home = kafka_home
        self._given_data_dir = data_dir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.data_dir: Path | None = None
        self.ports: list[int] = []
        self.controller_ports: list[int] = []
        self._procs: list[subprocess.Popen[bytes]] = []
        self._commands: list[list[str]] = []

    @property
    def bootstrap_servers(self) -> str:
        """Return the comma-separated host:port list for Kafka clients."""
        if not self.ports:
            raise LocalInfraError("the Kafka broker is not started")
        return ",".join(f"{self.host}:{port}" for port in self.ports)

    @property
    def pids(self) -> list[int]:
        """Return the process ids of the broker JVMs (each its own process group)."""
        return [proc.pid for proc in self._procs]

    @property
    def running(self) -> bool:
        """Return whether every broker process is alive."""
        return bool(self._procs) and all(proc.poll() is None for proc in self._procs)

    def node_running(self, node: int) -> bool:
        """Return whether node ``node`` (0-based) is alive."""
        return node < len(self._procs) and self._procs[node].poll() is None

    def log_path(self, node: int = 0) -> Path:
        """Return the stdout/stderr log file of node ``node`` (0-based)."""
        assert self.data_dir is not None, "not started"
        return self.data_dir / f"node-{node + 1}.log"

    def properties(self, node: int) -> dict[str, str]:
        """Return the server.properties of node ``node`` (0-based)."""
        assert self.data_dir is not None, "not started"
        replication = str(min(3, self.node_count))
        min_isr = str(min(2, self.node_count))
        voters = ",".join(
            f"{i + 1}@{self.host}:{port}" for i, port in enumerate(self.controller_ports)
        )
        extra = self.extra_listeners
        props = {
            "process.roles": "broker,controller",
            "node.id": str(node + 1),
            "controller.quorum.voters": voters,
            "listeners": (
                f"PLAINTEXT://{self.host}:{self.ports[node]},"
                f"CONTROLLER://{self.host}:{self.controller_ports[node]}"
                + "".join(f",{name}://{self.host}:{port}" for name, (port, _) in extra.items())
            ),
            "advertised.listeners": f"PLAINTEXT://{self.host}:{self.ports[node]}"
            + "".join(f",{name}://{self.host}:{adv}" for name, (_, adv) in extra.items()),
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
            + "".join(f",{name}:PLAINTEXT" for name in extra),
            "log.dirs": str(self.data_dir / f"node-{node + 1}"),
            "auto.create.topics.enable": "true",
            "num.partitions": "1",
            "default.replication.factor": replication,
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": replication,
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": replication,
            "transaction.state.log.min.isr": min_isr,
            "transaction.state.log.num.partitions": "1",
            "share.coordinator.state.topic.replication.factor": replication,
            "share.coordinator.state.topic.min.isr": min_isr,
            "share.coordinator.state.topic.num.partitions": "1",
            "group.initial.rebalance.delay.ms": "0",
            "group.min.session.timeout.ms": "500",
            "num.network.threads": "2",
            "num.io.threads": "2",
            "num.recovery.threads.per.data.dir": "1",
            "log.flush.interval.messages": "9223372036854775807",
            "log.retention.check.interval.ms": "300000",
        }
        props.update(self.extra_config)
        return props

    def start(self) -> Self:
        """Format storage, start every node and wait until all brokers answer Metadata."""
        if self._procs:
            raise LocalInfraError("the Kafka broker is already started")
        home = self._kafka_home or ensure_kafka()
        java = find_java()
        if self._given_data_dir is not None:
            self.data_dir = self._given_data_dir
            self.data_dir.mkdir(parents=True, exist_ok=True)
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="taskstream-kafka-")
            self.data_dir = Path(self._tmp.name)
        self.cluster_id = existing_cluster_id(self.data_dir / "node-1") or self.cluster_id
        if self._requested_ports:
            self.ports = list(self._requested_ports)
            self.controller_ports = free_ports(self.node_count, self.host)
        else:
            ports = free_ports(2 * self.node_count, self.host)
            self.ports = ports[: self.node_count]
            self.controller_ports = ports[self.node_count :]
        base = [
            java,
            *self.jvm_opts,
            f"-Dlog4j2.configurationFile={home / 'config' / 'log4j2.properties'}",
            "-cp",
            str(home / "libs" / "*"),
        ]
        configs = []
        for node in range(self.node_count):
            path = self.data_dir / f"node-{node + 1}.properties"
            path.write_text(
                "".join(f"{k}={v}\n" for k, v in self.properties(node).items()), encoding="utf-8"
            )
            configs.append(path)
        started = time.monotonic()
        self._commands = [[*base, "kafka.Kafka", str(path)] for path in configs]
        try:
            self._format(base, configs)
            for node, command in enumerate(self._commands):
                self._procs.append(spawn(command, self.log_path(node)))
            self._wait_ready(started)
        except BaseException:
            self.stop()
            raise
        return self

    def _format(self, base: list[str], configs: list[Path]) -> None:
        """Run ``kafka-storage format`` for every node (in parallel)."""
        assert self.data_dir is not None
        formats = [
            spawn(
                [
                    *base,
                    "kafka.tools.StorageTool",
                    "format",
                    "--ignore-formatted",
                    # One argument: an id may start with "-" (1 in 64), which argparse would
                    # take for an option given as a separate word.
                    f"--cluster-id={self.cluster_id}",
                    "-c",
                    str(path),
                ],
                self.data_dir / f"format-{node + 1}.log",
            )
            for node, path in enumerate(configs)
        ]
        for node, proc in enumerate(formats):
            try:
                code = proc.wait(timeout=self.start_timeout)
            except subprocess.TimeoutExpired:
                terminate(proc, 5)
                code = -1
            if code != 0:
                log = self.data_dir / f"format-{node + 1}.log"
                raise LocalInfraError(
                    f"kafka storage format of node {node + 1} failed ({code}):\n{tail(log)}"
                )

    def _wait_ready(self, started: float) -> None:
        """Poll the brokers with Metadata requests until each lists the whole cluster."""
        deadline = started + self.start_timeout
        while True:
            for node, proc in enumerate(self._procs):
                if proc.poll() is not None:
                    raise LocalInfraError(
                        f"Kafka node {node + 1} exited with {proc.returncode}:\n"
                        f"{tail(self.log_path(node))}"
                    )
            try:
                if all(
                    metadata_broker_count(self.host, port) >= self.node_count for port in self.ports
                ):
                    return
            except (OSError, struct.error, LocalInfraError):
                pass
            if time.monotonic() > deadline:
                raise LocalInfraError(
                    f"Kafka did not become ready within {self.start_timeout}s:\n"
                    f"{tail(self.log_path(0))}"
                )
            time.sleep(0.2)

    def stop_node(self, node: int) -> None:
        """Stop one node (0-based) as an operator would (SIGTERM: a controlled shutdown)."""
        terminate(self._procs[node], self.stop_timeout)

    def start_node(self, node: int) -> None:
        """Start a stopped node again on its ports and data; returns once it answers Metadata."""
        if self._procs[node].poll() is None:
            raise LocalInfraError(f"Kafka node {node + 1} is already running")
        self._procs[node] = spawn(self._commands[node], self.log_path(node))
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._procs[node].poll() is not None:
                raise LocalInfraError(
                    f"Kafka node {node + 1} exited with {self._procs[node].returncode}:\n"
                    f"{tail(self.log_path(node))}"
                )
            try:
                if metadata_broker_count(self.host, self.ports[node]) >= 1:
                    return
            except (OSError, struct.error, LocalInfraError):
                pass
            if time.monotonic() > deadline:
                raise LocalInfraError(f"Kafka node {node + 1} did not come back")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop every node (SIGTERM, then SIGKILL) and remove a temporary data dir."""
        procs, self._procs = self._procs, []
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            terminate(proc, self.stop_timeout)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Self:
        """Start the cluster."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the cluster."""
        self.stop()
