"""What Strimzi's User and Topic Operators would do for the local Kafka, as a plan of lines.

infra/local/kube.sh stands in for both operators (their image cannot be had here): it renders the
chart's KafkaUsers (`helm template --show-only templates/kafkausers.yaml`, on stdin) and reads the
KafkaTopics of infra/strimzi/minikube/topics.yaml (argument), then prints, one per line:

    user NAME                          a SCRAM-SHA-512 user (its Secret: NAME, key `password`)
    topic NAME PARTITIONS [K=V ...]    a topic to create with its config
    acl NAME TYPE RESOURCE[,..] OP[,..] ACLs for user NAME (grant.sh in the Kafka pod adds them)

so the broker's users, topics and ACLs are the ones the chart and the Strimzi manifests declare,
not a second list. Run by the tools virtualenv's Python (PyYAML); read-only.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

# What a plan line may carry: names Kafka and Kubernetes both accept, and no shell or JAAS syntax.
SAFE = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
MAX_DOCUMENTS = 1000


def safe(value: object, what: str) -> str:
    """`value` as a string, refused unless it is a plain name."""
    text = str(value)
    if not SAFE.match(text):
        raise SystemExit(f"users.py: {what} {text!r} is not a plain name ([A-Za-z0-9._-])")
    return text


def documents(text: str) -> list[dict[str, Any]]:
    """The non-empty YAML documents of `text`."""
    docs = [d for d in yaml.safe_load_all(text) if d]
    if len(docs) > MAX_DOCUMENTS:
        raise SystemExit(f"users.py: more than {MAX_DOCUMENTS} documents")
    return docs


def user_lines(docs: list[dict[str, Any]]) -> list[str]:
    """The `user` and `acl` lines of the KafkaUsers among `docs`."""
    lines: list[str] = []
    for user in (d for d in docs if d.get("kind") == "KafkaUser"):
        name = safe(user["metadata"]["name"], "KafkaUser")
        if user["spec"]["authentication"]["type"] != "scram-sha-512":
            raise SystemExit(f"users.py: KafkaUser {name}: only scram-sha-512 is served locally")
        lines.append(f"user {name}")
        # One grant per resource type and set of operations (AclCommand takes many resources).
        grants: dict[tuple[str, str], list[str]] = {}
        for acl in user["spec"].get("authorization", {}).get("acls", []):
            resource = acl["resource"]
            if resource.get("patternType", "literal") != "literal":
                raise SystemExit(f"users.py: KafkaUser {name}: only literal ACLs are served here")
            operations = ",".join(sorted(safe(op, "operation") for op in acl["operations"]))
            key = (safe(resource["type"], "resource type"), operations)
            grants.setdefault(key, []).append(safe(resource["name"], "resource"))
        for (kind, operations), names in grants.items():
            lines.append(f"acl {name} {kind} {','.join(names)} {operations}")
    return lines


def topic_lines(docs: list[dict[str, Any]]) -> list[str]:
    """The `topic` lines of the KafkaTopics among `docs`."""
    lines = []
    for topic in (d for d in docs if d.get("kind") == "KafkaTopic"):
        spec = topic["spec"]
        name = safe(spec.get("topicName", topic["metadata"]["name"]), "topic")
        config = [
            f"{safe(k, 'config key')}={safe(v, 'config value')}"
            for k, v in (spec.get("config") or {}).items()
        ]
        partitions = safe(int(spec.get("partitions", 1)), "partitions")
        lines.append(" ".join(["topic", name, partitions, *config]))
    return lines


def main(argv: list[str]) -> int:
    """Print the plan for the KafkaUsers on stdin and the KafkaTopics of the files named."""
    if len(argv) < 2:
        raise SystemExit("usage: users.py TOPICS.yaml... < kafkausers.yaml")
    topics = [d for name in argv[1:] for d in documents(Path(name).read_text())]
    for line in topic_lines(topics) + user_lines(documents(sys.stdin.read())):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
