"""A longer fault-injection run than the test suite's: the same faults, in turn, for N minutes.

    .venv/bin/python -m tests.faults.soak --minutes 10 [--brokers 3] [--rate 4] [--report F]
        [--random SEED]   # faults drawn at random (seeded, so a run can be repeated)

Prints one line per fault (operations sent, acknowledged, committed, effects seen of those
expected, duplicates, losses, recovery time) and exits 1 if any invariant did not hold.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import sys
import time
from pathlib import Path

from tests.faults.harness import (
    ROUTED_FAULT_NAMES,
    SINGLE_BROKER_FAULTS,
    SMALL_DISK_FAULTS,
    SMALL_DISK_MB,
    THREE_BROKER_FAULTS,
    Ledger,
    Tally,
    inject_under_load,
    running_stack,
    sign_up,
)


async def soak(
    minutes: float, brokers: int, rate: float, seed: int | None = None, small_disk: bool = False
) -> list[Tally]:
    """Inject the faults one after another (or drawn at random) until `minutes` have passed."""
    faults = (
        SINGLE_BROKER_FAULTS + (SMALL_DISK_FAULTS if small_disk else [])
        if brokers == 1
        else THREE_BROKER_FAULTS
        + [
            f
            for f in SINGLE_BROKER_FAULTS
            if f[0] != "Kafka stopped 30 s" and f[0] not in ROUTED_FAULT_NAMES
        ]
    )
    tallies = []
    disk = SMALL_DISK_MB if small_disk and brokers == 1 else None
    async with running_stack(brokers, postgres_disk_mb=disk) as stack:
        ledger = Ledger(stack)
        try:
            users = await sign_up(stack.url, 4)
            deadline = time.monotonic() + 60 * minutes
            draw = random.Random(seed)
            order = (
                itertools.cycle(faults)
                if seed is None
                else (draw.choice(faults) for _ in itertools.count())
            )
            for name, fault, seconds in order:
                if time.monotonic() > deadline:
                    break
                tally = await inject_under_load(
                    stack, ledger, users, name, fault, seconds=seconds, rate=rate
                )
                tallies.append(tally)
                print(
                    f"{'ok  ' if tally.ok else 'FAIL'} {name:<30} sent {tally.sent} acked "
                    f"{tally.acked} committed {tally.committed} effects {tally.effects}/"
                    f"{tally.expected_effects} dup {tally.duplicates} lost {tally.losses} "
                    f"recovered in {tally.recovery_seconds}s",
                    flush=True,
                )
                for problem in tally.problems[:10]:
                    print(f"     {problem}", flush=True)
        finally:
            await ledger.close()
    return tallies


def main() -> int:
    """Run the soak; 0 when every invariant held after every fault."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--brokers", type=int, choices=(1, 3), default=1)
    parser.add_argument("--rate", type=float, default=4.0, help="scenarios a second")
    parser.add_argument("--report", type=Path, default=None, help="write the tallies as JSON")
    parser.add_argument("--random", type=int, default=None, metavar="SEED", help="random order")
    parser.add_argument(
        "--small-disk", action="store_true", help="PostgreSQL on a small loop mount (root)"
    )
    args = parser.parse_args()
    tallies = asyncio.run(soak(args.minutes, args.brokers, args.rate, args.random, args.small_disk))
    if args.report is not None:
        args.report.write_text(json.dumps([t.as_dict() for t in tallies], indent=1))
    return 0 if tallies and all(t.ok for t in tallies) else 1


if __name__ == "__main__":
    sys.exit(main())
