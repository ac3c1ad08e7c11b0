"""Read YAML documents (files, or stdin when none) and print them as one JSON list.

Used by tests/deploy through the tools virtualenv, so the project's own environment needs no YAML
library; empty documents are dropped, and each document gets `__file__` when read from a file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml


def main(argv: list[str]) -> int:
    """Print every document of the named files (or stdin) as a JSON list."""
    docs = []
    if len(argv) > 1:
        for name in argv[1:]:
            for doc in yaml.safe_load_all(Path(name).read_text()):
                if doc is not None:
                    if isinstance(doc, dict):
                        doc["__file__"] = name
                    docs.append(doc)
    else:
        docs = [d for d in yaml.safe_load_all(sys.stdin) if d is not None]
    json.dump(docs, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
