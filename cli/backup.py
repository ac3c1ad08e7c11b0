"""`taskstream backup --to FILE` / `taskstream restore --from FILE`: `up`'s data, portable."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_backup_commands(commands: Any, *, default_data_dir: Path) -> None:
    """Register `backup` and `restore` on the top-level parser."""
    backup = commands.add_parser(
        "backup", help="write `up`'s database and secrets to one file (running or stopped)"
    )
    backup.add_argument("--to", dest="target", type=Path, required=True, metavar="FILE")
    backup.add_argument("--data-dir", type=Path, default=default_data_dir)
    backup.set_defaults(handler=command_backup)
    restore = commands.add_parser(
        "restore", help="restore a backup into an empty data directory for `up`"
    )
    restore.add_argument("--from", dest="source", type=Path, required=True, metavar="FILE")
    restore.add_argument("--data-dir", type=Path, default=default_data_dir)
    restore.set_defaults(handler=command_restore)


def command_backup(args: argparse.Namespace) -> int:
    """Dump `up`'s database (one consistent snapshot) and copy its secrets into one file."""
    from devstack.backup import BackupError, backup

    try:
        info = backup(args.data_dir, args.target)
    except BackupError as error:
        print(f"taskstream backup: {error}", file=sys.stderr)
        return 2
    print(
        f"backed up {args.data_dir} to {args.target} (PostgreSQL {info.postgres_version}, "
        f"secrets: {', '.join(info.secrets) or 'none'}); the file holds the signing keys: "
        "keep it as private as the data directory"
    )
    return 0


def command_restore(args: argparse.Namespace) -> int:
    """Restore a backup into an empty data directory; `taskstream up --data-dir` then serves it."""
    from devstack.backup import BackupError, restore

    if not args.source.is_file():
        print(f"taskstream restore: --from {args.source}: no such file", file=sys.stderr)
        return 2
    try:
        info = restore(args.source, args.data_dir)
    except BackupError as error:
        print(f"taskstream restore: {error}", file=sys.stderr)
        return 2
    print(
        f"restored the backup of {info.created_at} into {args.data_dir}; "
        f"start it with `taskstream up --data-dir {args.data_dir}`"
    )
    return 0
