"""Copy the Kubernetes JSON schemas shipped in the kubernetes-validate wheel into a folder that
kubeconform (or any JSON-schema validator) can use offline.

usage: k8s-schemas.py SOURCE_DIR OUT_DIR

The wheel's schemas carry `$id`s under https://kubernetes.io/api/ and point at
"/api/_definitions.json"; kubernetes-validate resolves those with its own loader. Here the `$id`s
are dropped and the references made relative, so `_definitions.json` is read from beside them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def relocate(node: Any) -> Any:
    """`node` with its `$id` dropped and definition references made file-relative."""
    if isinstance(node, list):
        return [relocate(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: relocate(value) for key, value in node.items() if key != "$id"}
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith("/api/_definitions.json"):
        out["$ref"] = ref[len("/api/") :]
    return out


def main(argv: list[str]) -> int:
    """Relocate every schema of SOURCE_DIR into OUT_DIR."""
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    source, target = Path(argv[1]), Path(argv[2])
    target.mkdir(parents=True, exist_ok=True)
    count = 0
    for path in sorted(source.glob("*.json")):
        doc = relocate(json.loads(path.read_text()))
        (target / path.name).write_text(json.dumps(doc, separators=(",", ":")))
        count += 1
    print(f"{count} schemas -> {target}")
    return 0 if count else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
