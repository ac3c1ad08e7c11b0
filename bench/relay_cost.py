"""What a createTask costs beyond the gateway that serves it: the outbox relay and PostgreSQL.

Run: ``.venv/bin/python -m bench.relay_cost [--requests 4000] [--rounds 2] [--baseline TREE]``.
Each round starts a BenchStack with the quick data set, a first gateway (the one that takes the
outbox lease, so it relays every event) and a second one that serves the load: 16 keep-alive
clients sending bench.create_task's mutation. It prints and records, per createTask, the CPU of
the serving gateway, of the relaying one and of PostgreSQL (every backend). `--baseline` starts
the relaying gateway from another tree (a `git worktree` of the code before a change to the
relay) in alternate rounds, the serving gateway staying this tree's: before and after side by
side. The machine is shared, so read the relay's CPU against the serving gateway's in the same
round. Writes ``bench/results/relay_cost.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import uuid
from pathlib import Path
from typing import Any

from bench.common import RESULTS
from bench.create_task import CREATE
from bench.datasets import load
from bench.loadgen import Request, run_load
from bench.run import SIZES
from bench.stack import REPO, BenchStack

CLIENTS = 16


async def _measure(
    stack: BenchStack, relaying_url: str, serving_url: str, user: uuid.UUID, requests: int
) -> dict[str, Any]:
    """Warm the serving gateway up, then run `requests` createTasks and read each part's CPU."""
    request = Request.graphql(serving_url + "/graphql", CREATE, token=stack.tokens.issue(user))
    await run_load(request, clients=CLIENTS, requests=1000, warmup=20, check=b'"createTask"')
    serving, relaying = stack.by_url[serving_url], stack.by_url[relaying_url]
    before = serving.cpu_seconds(), relaying.cpu_seconds(), stack.database_cpu_seconds() or 0.0
    result = await run_load(
        request, clients=CLIENTS, requests=requests, warmup=0, check=b'"createTask"'
    )
    assert result["failures"] == 0, result
    after = serving.cpu_seconds(), relaying.cpu_seconds(), stack.database_cpu_seconds() or 0.0
    per_create = [(b - a) * 1000 / result["requests"] for a, b in zip(before, after, strict=True)]
    return {
        "throughput_rps": result["throughput_rps"],
        "serving_gateway_cpu_ms": round(per_create[0], 3),
        "relaying_gateway_cpu_ms": round(per_create[1], 3),
        "postgres_cpu_ms": round(per_create[2], 3),
        "relay_share_of_serving": round(per_create[1] / per_create[0], 3),
    }


def one_round(relay_tree: Path, requests: int) -> dict[str, Any]:
    """A fresh stack whose outbox relay runs from `relay_tree`; its figures per createTask."""
    with contextlib.closing(BenchStack()) as stack:
        # The page user's tasks as in bench.run --quick; search's data set plays no part here.
        dataset = asyncio.run(
            load(stack.url, page_tasks=SIZES["quick"][0], search_tasks=1000, log=lambda _: None)
        )
        relaying = stack.gateway(relay_tree)
        serving = stack.gateway()
        return asyncio.run(_measure(stack, relaying, serving, dataset.page_user, requests))


def main() -> None:
    """Alternate the relay's trees over the rounds; print and record every round."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline", type=Path, help="the relaying gateway's tree, alternately")
    args = parser.parse_args()
    trees = {"this tree": REPO, **({"baseline": args.baseline} if args.baseline else {})}
    rounds: list[dict[str, Any]] = []
    for number in range(args.rounds):
        for name, tree in trees.items():
            figures = {"round": number + 1, "relay": name, **one_round(tree, args.requests)}
            print(figures, flush=True)
            rounds.append(figures)
    out = RESULTS / "relay_cost.json"
    out.write_text(
        json.dumps(
            {"benchmark": "relay_cost", "baseline": str(args.baseline), "rounds": rounds}, indent=2
        )
        + "\n"
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
