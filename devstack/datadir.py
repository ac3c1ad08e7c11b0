"""One process per data directory: an OS lock on DATA_DIR/.lock, held for the process lifetime.

`flock` locks belong to the open file, so the kernel drops the lock when its holder exits in any
way (a crash and SIGKILL included): a stale lock file never keeps a directory closed. The pid and
command line of the holder are written inside, for the message another starter prints.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = ".lock"
# The holder writes its pid just after taking the lock; a reader that finds the file empty in
# between waits this long at most for it.
_HOLDER_WAIT_SECONDS = 2.0


class DataDirectoryInUse(RuntimeError):
    """Another live process holds the data directory."""

    def __init__(self, directory: Path, pid: int | None, command: str) -> None:
        self.directory = directory
        self.pid = pid
        self.command = command
        holder = f"process {pid}" if pid is not None else "another process"
        if command:
            holder += f" ({command})"
        super().__init__(
            f"the data directory {directory} is in use by {holder}; stop it first, "
            "or give another --data-dir"
        )


class DataDirectoryLock:
    """The exclusive lock on one data directory; acquire() fails at once when it is held."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / LOCK_FILE
        self._descriptor: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise DataDirectoryInUse naming its holder."""
        self.directory.mkdir(parents=True, exist_ok=True)
        # Not inherited by children (os.open's default): PostgreSQL, daprd and the services
        # must not keep the directory locked after this process has gone.
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise self._in_use() from None
        except BaseException:
            os.close(descriptor)
            raise
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n{_command_line()}\n".encode())
        self._descriptor = descriptor

    def release(self) -> None:
        """Give the lock up (the file stays: removing it would race with a new holder)."""
        if self._descriptor is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._descriptor, 0)
            os.close(self._descriptor)
            self._descriptor = None

    @contextlib.contextmanager
    def held(self) -> Iterator[DataDirectoryLock]:
        """Hold the lock for the block."""
        self.acquire()
        try:
            yield self
        finally:
            self.release()

    def _in_use(self) -> DataDirectoryInUse:
        deadline = time.monotonic() + _HOLDER_WAIT_SECONDS
        while True:
            try:
                lines = self.path.read_text().splitlines()
            except OSError:
                lines = []
            if lines or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        pid = int(lines[0]) if lines and lines[0].strip().isdigit() else None
        command = lines[1] if len(lines) > 1 else ""
        return DataDirectoryInUse(self.directory, pid, command)


def _command_line() -> str:
    """This process's command line as a person would type it."""
    try:
        arguments = Path("/proc/self/cmdline").read_bytes().split(b"\0")
        return " ".join(part.decode(errors="replace") for part in arguments if part)
    except OSError:
        return " ".join([sys.executable, *sys.argv[1:]])
