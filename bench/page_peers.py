"""`tasks(first: 50)` with tags and reminders over the page user's tasks, and its two peers.

The real gateway (`taskstream gateway`, uvicorn, one process), PostGraphile 5 (node, one
process) and a plain Starlette endpoint running the gateway's SQL (one process) serve the same
50 tasks of the same user, ordered by creation time then id, each with its tags and reminders,
from the same PostgreSQL. The same load generator (bench/loadgen.py) sends each the same number
of requests from the same number of keep-alive clients; the rounds alternate between peers so
that background noise on the machine spreads over all three, and each peer's best round counts.

`TASKSTREAM_BENCH_BASELINE=/path/to/tree` adds a fourth: the gateway run from that tree (another
version of the code, e.g. the base commit exported with `git archive`), served the same
requests in the same rounds, so that before and after are measured side by side in one run.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from bench.loadgen import Request, fetch_json, run_load
from bench.runtime import BenchContext
from bench.stats import comparison
from graphql_schema.persisted import DEFAULT_MANIFEST, sha256_hex

PEER_LABELS = {"postgraphile": "PostGraphile 5", "starlette": "plain Starlette + same SQL"}

GATEWAY_PAGE = """
query {
  tasks(first: 50, orderBy: [{field: CREATED_AT}]) {
    pageInfo { endCursor hasNextPage }
    edges { node { id title status priority dueAt
                   tags { id name }
                   reminders { id remindAt beforeDue channels state sentAt } } }
  }
}
"""

POSTGRAPHILE_PAGE = """
query($user: UUID!) {
  allTasks(condition: {userId: $user}, orderBy: [CREATED_AT_ASC, ROW_ID_ASC], first: 50) {
    pageInfo { endCursor hasNextPage }
    edges { node { rowId title status priority dueAt
                   taskTagsByTaskId { nodes { position tagByTagId { rowId name } } }
                   remindersByTaskId(orderBy: POSITION_ASC) {
                     nodes { rowId remindAt beforeDue channels state sentAt } } } }
  }
}
"""


def registered_documents(*others: str) -> Path:
    """A trusted-documents manifest: the web app's documents, this benchmark's page and
    `others` (the compiled reads serve registered documents only)."""
    documents: dict[str, str] = json.loads(DEFAULT_MANIFEST.read_text())
    for text in (GATEWAY_PAGE, *others):
        documents[sha256_hex(text)] = text
    path = Path(tempfile.gettempdir()) / f"taskstream-bench-{os.getpid()}-documents.json"
    path.write_text(json.dumps(documents))
    return path


def _ids(body: Any, root: str, key: str = "id") -> list[str]:
    assert "errors" not in body, body
    return [edge["node"][key] for edge in body["data"][root]["edges"]]


async def run(context: BenchContext) -> dict[str, Any]:
    """Throughput and latency of the page on all three; ratios and goals."""
    stack, user = context.stack, context.dataset.page_user
    # The page is a registered document, as the web app's are (they answer by one compiled
    # statement, graphql_schema/sqljson.py): gateways of their own, with the manifest.
    registered = {"TASKSTREAM_GRAPHQL_TRUSTED_DOCUMENTS": str(registered_documents())}
    gateway = stack.gateway(env=registered)
    postgraphile = stack.postgraphile()
    starlette = stack.starlette_peer()
    urls = {"gateway": gateway, "postgraphile": postgraphile, "starlette": starlette}
    token = context.token(user)
    requests = {
        "gateway": Request.graphql(gateway + "/graphql", GATEWAY_PAGE, token=token),
        "postgraphile": Request.graphql(
            postgraphile + "/graphql", POSTGRAPHILE_PAGE, {"user": str(user)}
        ),
        "starlette": Request(f"{starlette}/page?user={user}"),
    }
    baseline_tree = os.environ.get("TASKSTREAM_BENCH_BASELINE")
    if baseline_tree:
        urls["baseline"] = baseline = stack.gateway(Path(baseline_tree), env=registered)
        requests["baseline"] = Request.graphql(baseline + "/graphql", GATEWAY_PAGE, token=token)
    # The three must answer the same tasks in the same order before their speed means anything.
    answers = {name: await fetch_json(request) for name, request in requests.items()}
    ids = {
        "gateway": _ids(answers["gateway"], "tasks"),
        "postgraphile": _ids(answers["postgraphile"], "allTasks", "rowId"),
        "starlette": _ids(answers["starlette"], "tasks"),
    }
    assert len(ids["gateway"]) == 50, ids["gateway"]
    assert ids["gateway"] == ids["postgraphile"] == ids["starlette"], "peers disagree"
    if "baseline" in answers:
        # The same document, so the same JSON, byte for byte once parsed.
        assert answers["baseline"] == answers["gateway"], "the baseline gateway answers otherwise"
    first_node = answers["postgraphile"]["data"]["allTasks"]["edges"][0]["node"]
    assert first_node["taskTagsByTaskId"]["nodes"], "PostGraphile returned no tags"

    clients, count = (8, 300) if context.quick else (16, 2000)
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in requests}
    for round_number in range(1 if context.quick else 2):
        for name, request in requests.items():
            context.log(f"  round {round_number + 1}: {name}, {count} requests, {clients} clients")
            server = stack.by_url[urls[name]]
            used, database = server.cpu_seconds(), stack.database_cpu_seconds()
            result = await run_load(request, clients=clients, requests=count, warmup=100)
            # The server's own CPU per request: the machine is shared, this is not.
            served = result["requests"] + 100
            cpu_ms = (server.cpu_seconds() - used) * 1000 / served
            result["server_cpu_ms_per_request"] = round(cpu_ms, 2)
            # And what its SQL cost the database (the rest of the machine's two cores).
            database_now = stack.database_cpu_seconds()
            if database is not None and database_now is not None:
                database_ms = (database_now - database) * 1000 / served
                result["database_cpu_ms_per_request"] = round(database_ms, 2)
            assert result["failures"] == 0, (name, result)
            rounds[name].append(result)
    best = {name: max(runs, key=lambda r: r["throughput_rps"]) for name, runs in rounds.items()}
    ours = best["gateway"]["throughput_rps"]
    against_baseline: list[dict[str, Any]] = []
    if "baseline" in best:
        label = f"the gateway from {baseline_tree}"
        against_baseline = [
            comparison(
                "tasks(first: 50): throughput, this tree",
                value=ours,
                unit="req/s",
                peer=label,
                peer_value=best["baseline"]["throughput_rps"],
            ),
            comparison(
                "tasks(first: 50): server CPU per request, this tree",
                value=best["gateway"]["server_cpu_ms_per_request"],
                unit="ms",
                peer=label,
                peer_value=best["baseline"]["server_cpu_ms_per_request"],
            ),
        ]
    return {
        "tasks_of_user": context.dataset.page_tasks,
        "clients": clients,
        "requests_per_round": count,
        "best": best,
        "rounds": rounds,
        "comparisons": [
            *(
                comparison(
                    "tasks(first: 50) + tags + reminders: throughput",
                    value=ours,
                    unit="req/s",
                    peer=label,
                    peer_value=best[peer]["throughput_rps"],
                    goal=f"≥ {floor:.1f}x {label}",
                    met=ours >= floor * best[peer]["throughput_rps"],
                )
                for (peer, label), floor in zip(PEER_LABELS.items(), (1.0, 0.5), strict=True)
            ),
            *(
                comparison(
                    f"tasks(first: 50): {whose} CPU per request",
                    value=best["gateway"][key],
                    unit="ms",
                    peer=label,
                    peer_value=best[peer][key],
                )
                for whose, key in (
                    ("server", "server_cpu_ms_per_request"),
                    ("PostgreSQL", "database_cpu_ms_per_request"),
                )
                if key in best["gateway"]
                for peer, label in PEER_LABELS.items()
            ),
            *(
                comparison(
                    f"tasks(first: 50): {q} latency under load",
                    value=best["gateway"][f"{q}_ms"],
                    unit="ms",
                    peer=peer_label,
                    peer_value=best[peer][f"{q}_ms"],
                )
                for q in ("p50", "p99")
                for peer, peer_label in PEER_LABELS.items()
            ),
            *against_baseline,
        ],
    }
