"""A change in a ten-member project reaching every member's socket, in `taskstream up`.

Shape: PROJECTS projects of ten members each (an owner who created the project and invited the
other nine through the API; each accepted), one graphql-transport-ws socket per member
subscribed to `taskEvents`. The members create tasks in their project, open-loop at RATE/s over
all the members in turn: each mutation fans out to the ten members' sockets of its project.

Peer, in the same run and the same server: today's fan-out (bench/live_push.py's shape), the same
number of personal accounts' tasks reaching that account's own ten sockets, at the same rate.
The phases take turns (project, personal, project, personal) so that the machine's drift lays on
both alike. Every delivery to every socket is one sample, the mutation included (the title
carries the monotonic time its mutation was sent: bench/live_clients.py).

Goal (issue 16): p99 ≤ 100 ms in `up`, at the rate this machine sustains (bench/live_push.py's
SUSTAINABLE_RATE; its 100/s phase saturates `up` on two shared cores already without projects).
Also at LIGHT_RATE (not judged): on a machine busy with other work, 20/s may already queue.

Run: .venv/bin/python -m bench.project_push [--quick]. Writes bench/results/project_push.json.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import UpProcess, pushes_summary, write_result
from bench.live_clients import (
    SERVER_ENV,
    Received,
    SubscriberPool,
    command_line,
    http_client,
    load_client,
    paced_mutations,
    progress,
    raise_fd_limit,
    sign_up_users,
)
from bench.live_push import SUSTAINABLE_RATE, drained
from bench.stats import comparison

MEMBERS = 10
GOAL_P99_MS = 100.0
# Also measured at a light rate, to tell the push path from the queueing of a saturated server.
LIGHT_RATE = 5.0
RATES = (LIGHT_RATE, SUSTAINABLE_RATE)


async def _graphql(
    http: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any] | None = None
) -> Any:
    response = await http.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    if "errors" in body:
        raise RuntimeError(f"{query.split('(')[0].strip()} failed: {body['errors']}")
    return body["data"]


async def share_project(http: httpx.AsyncClient, tokens: list[str], emails: list[str]) -> str:
    """The first user creates a project and invites the others, who accept; its id."""
    owner = tokens[0]
    created = await _graphql(
        http, owner, 'mutation { createProject(name: "bench project") { id } }'
    )
    project_id = str(created["createProject"]["id"])
    for email in emails[1:]:
        await _graphql(
            http,
            owner,
            "mutation($p: ID!, $e: String!) "
            "{ inviteToProject(projectId: $p, email: $e, role: EDITOR) { id } }",
            {"p": project_id, "e": email},
        )
    for token in tokens[1:]:
        pending = await _graphql(http, token, "query { myInvitations { id state } }")
        for invitation in pending["myInvitations"]:
            if invitation["state"] == "PENDING":
                await _graphql(
                    http,
                    token,
                    "mutation($i: ID!) { acceptInvitation(id: $i) { id } }",
                    {"i": invitation["id"]},
                )
    members = await _graphql(
        http, owner, "query($p: ID!) { project(id: $p) { members { role } } }", {"p": project_id}
    )
    count = len(members["project"]["members"])
    assert count == len(tokens), f"the project has {count} members, not {len(tokens)}"
    return project_id


async def push_latency(url: str, projects: int, rounds: int, seconds: float) -> dict[str, Any]:
    """Project fan-out and personal fan-out, phases taking turns, at each rate of RATES."""
    ws_url = url.replace("http://", "ws://") + "/graphql"
    async with http_client(url) as http, load_client(url) as load_http:
        progress(f"{url}: signing up {projects} x {MEMBERS} members and {projects} accounts")
        # Two at a time: password hashing is the costliest request there is, and a loaded
        # machine answers a crowd of sign-ups with errors.
        member_tokens = await sign_up_users(http, projects * MEMBERS, "member", concurrency=2)
        personal_tokens = await sign_up_users(http, projects, "personal", concurrency=2)
        project_of_member: list[str | None] = []
        for index in range(projects):
            group = range(index * MEMBERS, (index + 1) * MEMBERS)
            project_id = await share_project(
                http,
                [member_tokens[n] for n in group],
                [f"member-{n}@example.com" for n in group],
            )
            project_of_member += [project_id] * MEMBERS
        pools = {
            "project": SubscriberPool(ws_url, member_tokens),
            "personal": SubscriberPool(
                ws_url, [t for t in personal_tokens for _ in range(MEMBERS)]
            ),
        }
        senders: dict[str, tuple[list[str], list[str | None] | None]] = {
            "project": (member_tokens, project_of_member),
            "personal": (personal_tokens, None),
        }
        # Per (rate, phase), over the rounds: what the pool received, the mutations' durations,
        # and the mutations sent, failed and their pushes expected.
        received_by: dict[tuple[float, str], Received] = {}
        durations: dict[tuple[float, str], list[float]] = {}
        counts: dict[tuple[float, str], dict[str, int]] = {}
        opened: dict[str, Any] = {}
        try:
            for name, pool in pools.items():
                opened[name] = await pool.opened()
            await asyncio.sleep(1)
            for tokens, targets in senders.values():  # warm-up
                await paced_mutations(load_http, tokens, 10, 2, targets)
            for round_number in range(rounds):
                # The light rate first: a saturated phase leaves a backlog behind it.
                for rate in RATES:
                    for name, (tokens, targets) in senders.items():
                        key = (rate, name)
                        pool = pools[name]
                        await asyncio.sleep(3)
                        await pool.reset()
                        progress(f"round {round_number + 1}, {name}: {rate:g}/s")
                        load = await paced_mutations(load_http, tokens, rate, seconds, targets)
                        expected = (load["sent"] - load["errors"]) * MEMBERS
                        await drained(pool, expected)
                        received = await pool.report()
                        total = received_by.setdefault(key, Received())
                        total.latencies_ms.extend(received.latencies_ms)
                        total.messages += received.messages
                        total.closed += received.closed
                        durations.setdefault(key, []).extend(load.pop("durations_ms"))
                        tally = counts.setdefault(key, {"sent": 0, "errors": 0, "expected": 0})
                        tally["sent"] += load["sent"]
                        tally["errors"] += load["errors"]
                        tally["expected"] += expected
        finally:
            for pool in pools.values():
                pool.stop()
    return {
        "projects": projects,
        "members_per_project": MEMBERS,
        "subscribers": opened,
        **{
            f"at_{rate:g}_per_s": {
                name: {
                    "mutations": {
                        "sent": counts[(rate, name)]["sent"],
                        "errors": counts[(rate, name)]["errors"],
                    },
                    **pushes_summary(
                        counts[(rate, name)]["expected"],
                        received_by[(rate, name)],
                        durations[(rate, name)],
                    ),
                }
                for name in pools
            }
            for rate in RATES
        },
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Measure in `up`; record and return."""
    raise_fd_limit()
    projects, rounds, seconds = (2, 1, 5.0) if quick else (10, 2, 10.0)
    # The machine is shared: how busy it was when the figures were taken.
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="taskstream-bench-") as folder:
        started = time.perf_counter()
        up = UpProcess(Path(folder) / "data", env=SERVER_ENV)
        try:
            figures = asyncio.run(push_latency(up.url, projects, rounds, seconds))
        finally:
            up.stop()
        figures["startup_seconds"] = round(up.startup_seconds, 1)
        figures["total_seconds"] = round(time.perf_counter() - started, 1)
    rows = []
    for rate in (SUSTAINABLE_RATE, LIGHT_RATE):
        at_rate = figures[f"at_{rate:g}_per_s"]
        project, personal = at_rate["project"], at_rate["personal"]
        judged = rate == SUSTAINABLE_RATE
        for stat in ("p50", "p99"):
            value = project["mutation_to_push"][f"{stat}_ms"]
            rows.append(
                comparison(
                    f"up: change in a {MEMBERS}-member project → every member's socket, "
                    f"{stat} at {rate:g}/s ({projects * MEMBERS} members)",
                    value=value,
                    unit="ms",
                    peer=f"personal task → its owner's {MEMBERS} sockets (same run, same rate)",
                    peer_value=personal["mutation_to_push"][f"{stat}_ms"],
                    goal=f"≤ {GOAL_P99_MS:g} ms, every push delivered"
                    if judged and stat == "p99"
                    else None,
                    met=(
                        value <= GOAL_P99_MS
                        and project["pushes_received"] == project["pushes_expected"]
                    )
                    if judged and stat == "p99"
                    else None,
                )
            )
    result = {
        "command": f"python -m bench.project_push{' --quick' if quick else ''}",
        "quick": quick,
        "load_average_before_after": [round(load_before[0], 1), round(os.getloadavg()[0], 1)],
        "up": figures,
        "note": "mutation_to_push includes the mutation itself (HTTP, validation, membership "
        "check, commit, outbox relay) and the delivery-time membership check",
        "comparisons": rows,
    }
    write_result("project_push", result)
    return result


def main() -> None:
    """Run from the command line."""
    command_line(run, __doc__)


if __name__ == "__main__":
    main()
