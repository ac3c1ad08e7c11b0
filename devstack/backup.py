"""Back up and restore the data of `taskstream up`: its database and the secrets beside it.

A backup is one gzipped tar file (mode 0600: it holds the signing keys) with
  manifest.json      format version, when, PostgreSQL's version, the database's name
  database.dump      `pg_dump --format=custom` of the database (one snapshot: consistent while
                     `up` keeps writing, as pg_dump runs in a single repeatable-read transaction)
  secrets/...        the data directory's secrets folder (JWT and audit signing keys, the
                     database password, the Web Push VAPID key), so tokens signed before and
                     the audit chain's signatures verify after a restore, and browsers'
                     push subscriptions keep working
The server of a running `up` is dumped through its own port; a stopped one is started for the
dump and stopped again, the data directory locked meanwhile. A restore goes only into an empty
(or missing) data directory, and removes what it made when it fails: it never mixes a backup
into existing data.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from devstack.datadir import LOCK_FILE, DataDirectoryInUse, DataDirectoryLock
from devstack.postgres import DATABASE, POSTGRES_BIN_PATH, EmbeddedPostgres

FORMAT = "taskstream-backup/1"
MANIFEST = "manifest.json"
DUMP = "database.dump"
SECRETS = "secrets"
# Only these names come out of a backup; anything else in the archive is refused.
_MEMBER_PREFIXES = (MANIFEST, DUMP, f"{SECRETS}/")


class BackupError(Exception):
    """A backup or restore could not be done; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class BackupInfo:
    """What a backup holds, from its manifest."""

    created_at: str
    postgres_version: str
    database: str
    secrets: tuple[str, ...]


@contextmanager
def _server_of(data_dir: Path) -> Iterator[tuple[EmbeddedPostgres, str]]:
    """The URL of `up`'s server on this data directory: its running one, or one started here."""
    embedded = EmbeddedPostgres(data_dir / "postgres")
    if not (embedded.data_dir / "PG_VERSION").exists():
        raise BackupError(f"{data_dir} holds no `taskstream up` database")
    lock = DataDirectoryLock(data_dir)
    try:
        lock.acquire()
    except DataDirectoryInUse:
        lock_held = False  # `up` runs here: read through its server, never stop it
    else:
        lock_held = True
    try:
        url = embedded.running_url()
        if url is not None:
            yield embedded, url
            return
        if not lock_held:
            raise BackupError("`taskstream up` is starting on this data directory: try again")
        url = embedded.start()
        try:
            yield embedded, url
        finally:
            embedded.stop()
    finally:
        if lock_held:
            lock.release()


def _libpq_env(url: str) -> tuple[list[str], dict[str, str]]:
    """Connection arguments for pg_dump/pg_restore, the password in the environment."""
    parts = urlsplit(url)
    arguments = [
        "--host",
        parts.hostname or "127.0.0.1",
        "--port",
        str(parts.port or 5432),
        "--username",
        unquote(parts.username or "postgres"),
        "--dbname",
        parts.path.lstrip("/") or DATABASE,
    ]
    # Not in argv: another OS user can read a process's command line.
    env = {**os.environ, "PGPASSWORD": unquote(parts.password or ""), "LC_ALL": "C.UTF-8"}
    return arguments, env


def _run(program: str, arguments: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(  # noqa: S603 - fixed executables from the wheel
        [str(POSTGRES_BIN_PATH / program), *arguments],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if result.returncode != 0:
        raise BackupError(f"{program} failed: {result.stderr.strip() or result.stdout.strip()}")


def backup(data_dir: Path, target: Path) -> BackupInfo:
    """Write a backup of `up`'s data directory to `target` (replaced only when complete)."""
    data_dir = data_dir.expanduser().resolve()
    target = target.expanduser().resolve()
    secrets_dir = data_dir / SECRETS
    with tempfile.TemporaryDirectory(prefix="taskstream-backup-") as scratch:
        dump = Path(scratch) / DUMP
        with _server_of(data_dir) as (embedded, url):
            arguments, env = _libpq_env(url)
            _run("pg_dump", ["--format=custom", "--file", str(dump), *arguments], env)
            version = (embedded.data_dir / "PG_VERSION").read_text().strip()
        secrets = sorted(
            path.name for path in secrets_dir.iterdir() if path.is_file() and path.name[0] != "."
        )
        info = BackupInfo(
            created_at=datetime.now(UTC).isoformat(),
            postgres_version=version,
            database=DATABASE,
            secrets=tuple(secrets),
        )
        manifest = json.dumps(
            {
                "format": FORMAT,
                "createdAt": info.created_at,
                "postgresVersion": info.postgres_version,
                "database": info.database,
                "secrets": list(info.secrets),
            },
            indent=2,
        ).encode()
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with (
                os.fdopen(descriptor, "wb") as file,
                tarfile.open(fileobj=file, mode="w:gz") as tar,
            ):
                entry = tarfile.TarInfo(MANIFEST)
                entry.size = len(manifest)
                entry.mode = 0o600
                tar.addfile(entry, io.BytesIO(manifest))
                tar.add(dump, arcname=DUMP, recursive=False)
                for name in secrets:
                    tar.add(secrets_dir / name, arcname=f"{SECRETS}/{name}", recursive=False)
            partial.replace(target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return info


def _is_empty(directory: Path) -> bool:
    """Missing, or holding nothing but a lock file of an earlier run."""
    if not directory.exists():
        return True
    return all(path.name == LOCK_FILE for path in directory.iterdir())


def read_manifest(source: Path) -> BackupInfo:
    """What a backup holds; BackupError when the file is not a (whole) Taskstream backup."""
    try:
        with tarfile.open(source, mode="r:gz") as tar:
            return _manifest_of(source, tar)
    except (OSError, tarfile.TarError) as error:
        raise BackupError(f"{source} is not a Taskstream backup ({error})") from error


def _manifest_of(source: Path, tar: tarfile.TarFile) -> BackupInfo:
    names = tar.getnames()
    strays = [name for name in names if not name.startswith(_MEMBER_PREFIXES)]
    if MANIFEST not in names or DUMP not in names or strays:
        raise BackupError(
            f"{source} is not a Taskstream backup (it must hold {MANIFEST}, {DUMP} and "
            f"{SECRETS}/ only)"
        )
    handle = tar.extractfile(MANIFEST)
    if handle is None:
        raise BackupError(f"{source}: {MANIFEST} is not a file")
    try:
        data = json.loads(handle.read())
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise BackupError(f"{source}: unknown backup format (this version reads {FORMAT})")
        info = BackupInfo(
            created_at=str(data["createdAt"]),
            postgres_version=str(data["postgresVersion"]),
            database=str(data["database"]),
            secrets=tuple(str(name) for name in data["secrets"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise BackupError(f"{source}: damaged manifest ({error})") from error
    for name in info.secrets:
        if Path(name).name != name or name in {"", ".", ".."}:
            raise BackupError(f"{source}: secret name {name!r} is not a plain file name")
        if f"{SECRETS}/{name}" not in names:
            raise BackupError(f"{source}: the secret {name!r} is missing")
    return info


def restore(source: Path, data_dir: Path) -> BackupInfo:
    """Restore a backup into an empty data directory; on failure leave it as it was."""
    source = source.expanduser().resolve()
    data_dir = data_dir.expanduser().resolve()
    if not _is_empty(data_dir):
        raise BackupError(
            f"{data_dir} is not empty: restore into a new data directory (--data-dir), "
            "never over existing data"
        )
    existed = data_dir.exists()
    info = read_manifest(source)
    lock = DataDirectoryLock(data_dir)
    try:
        lock.acquire()
    except DataDirectoryInUse as error:
        raise BackupError(str(error)) from error
    try:
        with tempfile.TemporaryDirectory(prefix="taskstream-restore-") as scratch:
            with tarfile.open(source, mode="r:gz") as tar:
                # The "data" filter refuses absolute paths, links out of the folder, devices.
                tar.extractall(scratch, filter="data")
            dump = Path(scratch) / DUMP
            secrets_dir = data_dir / SECRETS
            secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            for name in info.secrets:
                copied = secrets_dir / name
                shutil.copyfile(Path(scratch) / SECRETS / name, copied)
                copied.chmod(0o600)
            embedded = EmbeddedPostgres(data_dir / "postgres")
            url = embedded.start()
            try:
                arguments, env = _libpq_env(url)
                _run(
                    "pg_restore",
                    [
                        "--exit-on-error",
                        "--single-transaction",
                        "--no-owner",
                        *arguments,
                        str(dump),
                    ],
                    env,
                )
            finally:
                embedded.stop()
    except BaseException:
        lock.release()
        _remove_contents(data_dir, keep_root=existed)
        raise
    lock.release()
    return info


def _remove_contents(directory: Path, *, keep_root: bool) -> None:
    """Undo a failed restore: what it wrote into the (formerly empty) directory goes."""
    if not directory.exists():
        return
    if not keep_root:
        shutil.rmtree(directory, ignore_errors=True)
        return
    for path in directory.iterdir():
        if path.name == LOCK_FILE:
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
