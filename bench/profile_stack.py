"""Where each service of `stack up` spends its CPU under the push load: py-spy profiles.

Run: ``.venv/bin/python -m bench.profile_stack [--rate 100] [--seconds 20] [--users 100]
[--sockets 10] [--sample-rate 100] [--gil]``. Starts `stack up` in a temporary data directory, opens
users x sockets `taskEvents` subscriptions (read in a child process), lets every user send one
createTask first (their rate-limit slices, sessions and connections are then warm, as in
bench/live_push.py), then runs createTask at `rate`/s, each user through a client of their own,
while py-spy samples every Python service (the gateways and the workers) from outside:
``py-spy record --nonblocking --nolineno --format raw``, so no service is paused or changed.

Writes, per service, bench/results/profiles/stack_<service>.txt (the functions holding the most
samples, inclusive and self) and stack_<service>.collapsed.gz: the collapsed stacks, one line
per distinct stack and its sample count, gzipped (unpacked, what flamegraph.pl, inferno and
speedscope read to draw the flame graph). Prints each process's CPU per mutation (from /proc,
sidecars, Kafka and PostgreSQL included) and the pushes' latency. py-spy itself runs on the
same cores: read the proportions, not this run's latencies (bench/live_push.py measures those
without it). A sample is taken whenever the thread is not idle, including while it is runnable
but preempted; with ``--gil`` only while it holds the GIL, so time inside a syscall (a loopback
write that hands the core to its reader) leaves the profile and the shares come close to the
Python CPU. `_SelectorSocketTransport.write` held 28-35 % of a gateway's samples in one run,
three quarters of them asyncpg's and the sidecar client's writes: far more than a loopback
write costs, probably because a write that wakes PostgreSQL or a sidecar hands the core over
inside the syscall. Set the shares against the CPU per process this prints.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gzip
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import RESULTS, UpProcess, pushes_summary
from bench.cycle_cpu import parts_of, sample
from bench.live_clients import (
    SERVER_ENV,
    SubscriberPool,
    http_client,
    paced_mutations,
    raise_fd_limit,
    replica_urls,
    sign_up_users,
    user_clients,
    warm_on_every_replica,
)
from bench.live_push import drained

PROFILES = RESULTS / "profiles"
# Processes py-spy can read (Python); the others are only measured.
NOT_PYTHON = ("daprd", "kafka", "postgres", "stack up")
SUMMARY_ROWS = 30


def py_spy() -> str:
    """The py-spy executable (the bench extra installs it beside this interpreter)."""
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise SystemExit("py-spy is not installed: `make bench` installs the bench extra")
    return found


def summary(collapsed: str, rows: int = SUMMARY_ROWS) -> str:
    """The functions holding the most samples, inclusive and self, as percentages."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += samples
        own[frames[-1]] += samples
    lines = [f"# {total} samples", "# inclusive"]
    lines += [f"# {100 * n / total:5.1f}% {name}" for name, n in inclusive.most_common(rows)]
    lines += ["# self"]
    lines += [f"# {100 * n / total:5.1f}% {name}" for name, n in own.most_common(rows)]
    return "\n".join(lines) if total else "# no samples"


async def profile(
    up: UpProcess,
    data_dir: Path,
    rate: float,
    seconds: float,
    users: int,
    sockets: int,
    hz: int,
    gil: bool = False,
) -> dict[str, Any]:
    """The load with py-spy attached to each Python service; CPU per mutation by process."""
    url = up.url
    ws_url = url.replace("http://", "ws://") + "/graphql"
    entries = json.loads((data_dir / "run" / "pids.json").read_text())
    services = {
        str(e["name"]): int(e["pid"]) for e in entries if not str(e["name"]).startswith(NOT_PYTHON)
    }
    async with http_client(url) as http, user_clients(url, users) as clients:
        tokens = await sign_up_users(http, users, "profile")
        pool = SubscriberPool(ws_url, [t for t in tokens for _ in range(sockets)])
        try:
            opened = await pool.opened()
            # Every user once on every replica: no first-request cost falls into the profile.
            await warm_on_every_replica(replica_urls(url, data_dir), tokens, min(rate, 50.0))
            await asyncio.sleep(3)
            await pool.reset()
            PROFILES.mkdir(parents=True, exist_ok=True)
            spies = {
                name: await asyncio.create_subprocess_exec(
                    py_spy(),
                    "record",
                    "--pid",
                    str(pid),
                    "--rate",
                    str(hz),
                    "--duration",
                    str(round(seconds)),
                    "--nonblocking",
                    *(["--gil"] if gil else []),
                    # Stacks by function, not by line: the file stays small enough to keep.
                    "--nolineno",
                    "--format",
                    "raw",
                    "--output",
                    str(PROFILES / f"stack_{name}.raw"),
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.PIPE,
                )
                for name, pid in services.items()
            }
            parts = parts_of(up, data_dir, True)
            before = sample(parts)
            load = await paced_mutations(clients, tokens, rate, seconds)
            expected = (load["sent"] - load["errors"]) * sockets
            await drained(pool, expected)
            after = sample(parts)
            received = await pool.report()
            failed = {}
            for name, spy in spies.items():
                _, errors = await asyncio.wait_for(spy.communicate(), timeout=60)
                if spy.returncode != 0:
                    failed[name] = errors.decode(errors="replace").strip()[-300:]
        finally:
            pool.stop()
    for name in services:
        raw = PROFILES / f"stack_{name}.raw"
        if name in failed or not raw.exists():
            continue
        collapsed = raw.read_text()
        raw.unlink()
        sampled = "# sampled while holding the GIL (--gil)\n" if gil else ""
        (PROFILES / f"stack_{name}.txt").write_text(sampled + summary(collapsed) + "\n")
        with gzip.open(PROFILES / f"stack_{name}.collapsed.gz", "wt") as packed:
            packed.write(collapsed)
    sent = max(1, load["sent"])
    cpu = {name: round((after[name] - before[name]) * 1000 / sent, 2) for name in after}
    return {
        "subscribers": opened,
        "rate_per_s": load["rate_per_s"],
        "mutation_errors": load["errors"],
        **pushes_summary(expected, received, load.pop("durations_ms")),
        "cpu_ms_per_mutation": dict(sorted(cpu.items(), key=lambda item: -item[1])),
        "profiles": sorted(f"stack_{name}.txt" for name in services if name not in failed),
        "py_spy_failed": failed,
    }


def main() -> None:
    """Start `stack up`, profile the load, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="createTask per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--sockets", type=int, default=10, help="subscriptions per user")
    parser.add_argument("--sample-rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument(
        "--gil",
        action="store_true",
        help="sample only while a thread holds the GIL: time inside syscalls (and runnable but"
        " preempted in them) leaves the profile, so its shares are close to Python CPU",
    )
    arguments = parser.parse_args()
    raise_fd_limit()
    with tempfile.TemporaryDirectory(prefix="taskstream-profile-stack-") as folder:
        data_dir = Path(folder)
        up = UpProcess(data_dir, env=SERVER_ENV, stack=True)
        try:
            figures = asyncio.run(
                profile(
                    up,
                    data_dir,
                    arguments.rate,
                    arguments.seconds,
                    arguments.users,
                    arguments.sockets,
                    arguments.sample_rate,
                    arguments.gil,
                )
            )
        finally:
            up.stop()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
