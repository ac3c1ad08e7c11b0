"""Migration ids follow one scheme from now on: `<branch>_<NNNN>`, in a file named after it.

The four revisions that predate the scheme keep their ids, because existing databases store
them in `public.alembic_version` (see docs/architecture.md, "Differences from the contract").
"""

from __future__ import annotations

import re
from pathlib import Path

from alembic.script import Script, ScriptDirectory

from taskstream.persistence.db import alembic_config, migration_branches

LEGACY = frozenset({"0001", "0002", "audit_0001", "0004"})
TRUNK = "gateway"


def revisions() -> list[Script]:
    """Every revision of the repository's migrations."""
    return list(ScriptDirectory.from_config(alembic_config("postgresql://")).walk_revisions())


def test_the_legacy_revisions_are_still_there() -> None:
    assert {script.revision for script in revisions()} >= LEGACY


def test_new_revisions_are_named_after_their_branch() -> None:
    pattern = re.compile(rf"({'|'.join([TRUNK, *sorted(migration_branches())])})_(\d{{4}})")
    for script in revisions():
        if script.revision in LEGACY:
            continue
        found = pattern.fullmatch(script.revision)
        assert found, f"{script.revision}: use --rev-id <branch>_<NNNN>"
        branch = found[1]
        # The trunk is the gateway's; every other branch carries its worker's label.
        expected = set() if branch == TRUNK else {branch}
        assert set(script.branch_labels) == expected, (script.revision, script.branch_labels)
        # alembic.ini's file_template puts the revision id after the date.
        name = Path(script.path).name
        assert f"_{script.revision}_" in name, f"{name}: the file name carries the revision id"
