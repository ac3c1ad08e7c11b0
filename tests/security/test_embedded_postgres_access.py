"""The embedded PostgreSQL of `up` lets in the service alone: no `trust`, no other OS user.

Probe (issue 13): pg_hba had `trust` on 127.0.0.1, so any local OS user connected as the
superuser and read webhook secrets and password hashes.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path

import asyncpg
import pytest

from devstack.postgres import DATABASE, PG_HBA, POSTGRES_BIN_PATH, EmbeddedPostgres

pytestmark = pytest.mark.integration


def plain(url: str) -> str:
    """The asyncpg DSN of a SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def refused(dsn: str) -> bool:
    """Whether the server refuses a connection to `dsn` at authentication."""
    try:
        connection = await asyncpg.connect(dsn, timeout=10)
    except (asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InvalidPasswordError):
        return True
    await connection.close()
    return False


def psql_as(account: str, socket_dir: Path, port: int) -> subprocess.CompletedProcess[str]:
    """psql over the Unix socket, run as another OS user, without a password."""
    user = pwd.getpwnam(account)
    return subprocess.run(
        [
            str(POSTGRES_BIN_PATH / "psql"),
            "-h",
            str(socket_dir),
            "-p",
            str(port),
            "-U",
            "postgres",
            "-w",
            "-tAc",
            "SELECT 1",
        ],
        user=user.pw_uid,
        group=user.pw_gid,
        capture_output=True,
        text=True,
        cwd="/",
        env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8"},
        check=False,
        timeout=30,
    )


async def test_only_the_service_gets_in(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "postgres", durable=False)
    url = server.start()
    try:
        connection = await asyncpg.connect(plain(url), timeout=10)
        assert await connection.fetchval("SELECT current_user") == "postgres"
        await connection.close()

        # Over TCP: no password, a wrong one, or another role are all refused.
        tcp = f"127.0.0.1:{server.port}/{DATABASE}"
        assert await refused(f"postgresql://postgres@{tcp}")
        assert await refused(f"postgresql://postgres:not-the-password@{tcp}")
        assert await refused(f"postgresql://someone@{tcp}")
        rules = (server.data_dir / "pg_hba.conf").read_text()
        assert rules == PG_HBA
        assert all(
            line.split()[-1] == "scram-sha-256"
            for line in rules.splitlines()
            if line.strip() and not line.startswith("#")
        )

        secret = tmp_path / "secrets" / "postgres-password"
        assert secret.read_text().strip() == server.password()
        assert secret.stat().st_mode & 0o077 == 0
        assert server.data_dir.stat().st_mode & 0o077 == 0
        # The URL of a running server (what `taskstream audit report` uses) carries it too.
        assert EmbeddedPostgres(tmp_path / "postgres").running_url() == url
    finally:
        server.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another OS user")
def test_another_os_user_cannot_reach_the_socket(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "postgres", durable=False)
    server.start()
    try:
        attempt = psql_as("nobody", server.data_dir, server.port)
        assert attempt.returncode != 0
        assert "SELECT" not in attempt.stdout and attempt.stdout.strip() != "1"
    finally:
        server.stop()


async def test_an_old_trust_directory_is_secured_in_place(tmp_path: Path) -> None:
    data_dir = tmp_path / "postgres"
    old = EmbeddedPostgres(data_dir, durable=False)
    # What older versions made: initdb with `trust`, a database, data in it.
    old._initdb()
    old._pg_ctl_start(f"-h 127.0.0.1 -p {old.port} -k {old.data_dir}")
    try:
        trusted = f"postgresql://postgres@127.0.0.1:{old.port}/postgres"
        connection = await asyncpg.connect(trusted, timeout=10)
        await connection.execute(f"CREATE DATABASE {DATABASE}")
        await connection.close()
        connection = await asyncpg.connect(
            f"postgresql://postgres@127.0.0.1:{old.port}/{DATABASE}", timeout=10
        )
        await connection.execute("CREATE TABLE kept (note text); INSERT INTO kept VALUES ('x')")
        await connection.close()
    finally:
        old._run("pg_ctl", "-D", str(data_dir), "-w", "-m", "fast", "stop")
    assert "trust" in (data_dir / "pg_hba.conf").read_text()
    assert not (tmp_path / "secrets" / "postgres-password").exists()

    server = EmbeddedPostgres(data_dir, durable=False)
    url = server.start()
    try:
        assert (data_dir / "pg_hba.conf").read_text() == PG_HBA
        connection = await asyncpg.connect(plain(url), timeout=10)
        assert await connection.fetchval("SELECT note FROM kept") == "x"
        await connection.close()
        assert await refused(f"postgresql://postgres@127.0.0.1:{server.port}/{DATABASE}")
    finally:
        server.stop()
    # And the next start of the secured directory is a plain start with the same password.
    again = EmbeddedPostgres(data_dir, durable=False)
    try:
        connection = await asyncpg.connect(plain(again.start()), timeout=10)
        assert await connection.fetchval("SELECT count(*) FROM kept") == 1
        await connection.close()
    finally:
        again.stop()


async def test_a_lost_password_file_gets_a_new_password(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "postgres", durable=False)
    first = server.start()
    server.stop()
    (tmp_path / "secrets" / "postgres-password").unlink()
    again = EmbeddedPostgres(tmp_path / "postgres", durable=False)
    try:
        url = again.start()
        assert url != first
        connection = await asyncpg.connect(plain(url), timeout=10)
        await connection.close()
        # The old password no longer opens it.
        assert await refused(plain(first).replace(f":{server.port}/", f":{again.port}/"))
        assert (again.data_dir / "pg_hba.conf").read_text() == PG_HBA
    finally:
        again.stop()
