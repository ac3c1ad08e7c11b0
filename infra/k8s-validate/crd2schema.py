"""Turn CustomResourceDefinition YAML into JSON schemas kubeconform can read, offline.

usage: crd2schema.py OUT_DIR CRD.yaml [CRD.yaml ...]

Writes OUT_DIR/<group>/<kind>_<version>.json (kind lower-cased) for every served version, which
kubeconform finds with -schema-location
  'OUT_DIR/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json'.
Like kubeconform's openapi2jsonschema.py in strict mode: objects that list their properties and
allow nothing else (no additionalProperties, no x-kubernetes-preserve-unknown-fields) reject
unknown fields, so a misspelt key fails validation instead of being dropped by the API server.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml


def strict(node: Any) -> Any:
    """A copy of an OpenAPI v3 schema node as JSON Schema, closed where the CRD is closed."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: strict(value) for key, value in node.items()}
    if out.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    out.pop("nullable", None)
    if out.get("x-kubernetes-int-or-string") is True:
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def convert(crd: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write one schema per version of `crd`; return the files written."""
    spec = crd["spec"]
    group, kind = spec["group"], spec["names"]["kind"]
    written = []
    for version in spec.get("versions", []):
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            continue
        doc = strict(schema)
        props = doc.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
        # A manifest must name exactly this group/version and kind.
        props["apiVersion"] = {"type": "string", "enum": [f"{group}/{version['name']}"]}
        props["kind"] = {"type": "string", "enum": [kind]}
        doc["$schema"] = "http://json-schema.org/draft-07/schema#"
        target = out_dir / group / f"{kind.lower()}_{version['name']}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
        written.append(target)
    return written


def main(argv: list[str]) -> int:
    """Convert every CRD in the files named on the command line."""
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out_dir = Path(argv[1])
    count = 0
    for name in argv[2:]:
        for doc in yaml.safe_load_all(Path(name).read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                count += len(convert(doc, out_dir))
    if count == 0:
        print(f"no CRD schema found in {argv[2:]}", file=sys.stderr)
        return 1
    print(f"{count} schemas -> {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
