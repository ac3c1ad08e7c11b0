"""Issue 16's figures over the shared projects of the data set (bench/datasets.py), beside today's.

Search: `tasks(filter: {text}, first: 20)` of the search user over everything the user can see
(the personal space and every project the user belongs to: about 97 % of the 1M tasks, 30 % of
them in projects, some subtasks), beside the same request restricted to the personal space
(`inbox: true`: the scope every search had before projects); the requests take turns. Goals are
the search benchmark's: selective p95 ≤ 20 ms, broad p95 ≤ 200 ms. Each case's SQL plan (EXPLAIN
ANALYZE of the statement the gateway builds, reads.page_statement) is recorded beside it.

Page: a page of a shared project with subtasks (member0 reads the ten-member `page project`:
`tasks(first: 50, filter: {projectId, topLevel: true}, orderBy: MANUAL)` with each task's
project, section, assignee, tags, reminders and subtasks, as the web app's board asks) beside
today's page benchmark (page_peers: the page user's `tasks(first: 50)` with tags and
reminders), through the same gateway, the rounds taking turns. Goal: within 1.2x of today's
figure (throughput, and p50 latency one request at a time). Each page round also records the
gateway's CPU per request and the PostgreSQL connections opened per request (sessions counted
by pg_stat_database: the rounds take turns, so each round's new sessions are its own).

Default list: the web app's own list request as it opens (web/src/graphql/tasks.graphql's
`Tasks` with the `TaskListItem` fragment, `filter: {status: OPEN}, first: 50`, `totalCount`
included) by the search user, a member of 91 projects who sees about 975,000 tasks, beside the
same request by the page user (100,000 tasks of their own, in no project); and both without
`totalCount`, which shows what the count costs. Goal: p95 ≤ 200 ms (the broad search's). And
more of the app's requests by both users, reported beside each other: open tasks filtered by
one of a project's tags (which the page user does not have), sorted by priority descending, and
the calendar's month (web/src/graphql/calendar.graphql: the tasks due in it, first 200, and the
open recurring ones due before its end).

`TASKSTREAM_BENCH_BASELINE=/path/to/tree` (as in page_peers) adds the shared project's page
served by a gateway run from that tree (e.g. the base commit exported with `git archive`), in
the same rounds, so that before and after are measured side by side in one run.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

from bench.datasets import BROAD_WORD, SELECTIVE_WORD, plain_url
from bench.loadgen import Request, alternating, fetch_json, run_load
from bench.page_peers import GATEWAY_PAGE, registered_documents
from bench.runtime import BenchContext
from bench.search import GOALS_MS, SEARCH
from bench.stats import comparison
from gateway_core.persistence import reads
from taskstream.persistence.db import create_engine

SEARCH_CASES = {"selective": SELECTIVE_WORD, "broad": BROAD_WORD}
PAGE_RATIO_GOAL = 1.2
DEFAULT_LIST_GOAL_MS = 200.0
WEB_DOCUMENTS = Path(__file__).resolve().parent.parent / "web" / "src" / "graphql"
BASELINE = ", baseline tree"
BASELINE_PAGE = "shared project page" + BASELINE

# The web app's board (web/src/graphql/board.graphql: BoardTask) at today's page size.
PROJECT_PAGE = """
query($project: ID!) {
  tasks(first: 50, filter: {projectId: $project, topLevel: true}, orderBy: [{field: MANUAL}]) {
    pageInfo { endCursor hasNextPage }
    edges { node { id title status priority dueAt position version
                   project { id name myRole }
                   section { id }
                   assignee { id email }
                   tags { id name }
                   reminders { id remindAt beforeDue channels state sentAt }
                   subtasks { id title status version } } }
  }
}
"""


def web_list_document(*, total_count: bool) -> str:
    """The web app's `Tasks` query with its `TaskListItem` fragment, as the list sends it."""
    tasks = (WEB_DOCUMENTS / "tasks.graphql").read_text()
    fragments = (WEB_DOCUMENTS / "fragments.graphql").read_text()
    query = re.search(r"query Tasks\(.*?\n}\n", tasks, re.S)
    fragment = re.search(r"fragment TaskListItem on Task {.*?\n}\n", fragments, re.S)
    assert query and fragment, "the web app's list documents moved"
    document = query.group(0) + fragment.group(0)
    return document if total_count else document.replace("totalCount", "", 1)


def web_calendar_document() -> str:
    """The web app's `CalendarTasks` query with its `CalendarTask` fragment."""
    calendar = (WEB_DOCUMENTS / "calendar.graphql").read_text()
    query = re.search(r"query CalendarTasks\(.*?\n}\n", calendar, re.S)
    fragment = re.search(r"fragment CalendarTask on Task {.*?\n}\n", calendar, re.S)
    assert query and fragment, "the web app's calendar documents moved"
    return query.group(0) + fragment.group(0)


def _rows(answer: Any) -> list[dict[str, Any]]:
    assert "errors" not in answer, answer
    return [edge["node"] for edge in answer["data"]["tasks"]["edges"]]


def _baseline_gateway(context: BenchContext) -> str | None:
    """A gateway run from TASKSTREAM_BENCH_BASELINE's tree for the searches, or None."""
    tree = os.environ.get("TASKSTREAM_BENCH_BASELINE")
    return context.stack.gateway(Path(tree)) if tree else None


async def _search(context: BenchContext, count: int) -> dict[str, Any]:
    """Each case over everything visible and over the personal space only, taking turns (and
    the same two from the baseline tree's gateway, with TASKSTREAM_BENCH_BASELINE)."""
    token = context.token(context.dataset.search_user)
    gateways = {"": context.gateway_url}
    baseline = _baseline_gateway(context)
    if baseline is not None:
        gateways[BASELINE] = baseline
    results: dict[str, Any] = {}
    for case, word in SEARCH_CASES.items():
        requests = {}
        for suffix, base in gateways.items():
            url = base + "/graphql"
            requests["everything visible" + suffix] = Request.graphql(
                url, SEARCH, {"f": {"text": word}}, token=token
            )
            requests["personal space only" + suffix] = Request.graphql(
                url, SEARCH, {"f": {"text": word, "inbox": True}}, token=token
            )
        matches = {name: len(_rows(await fetch_json(r))) for name, r in requests.items()}
        context.log(f"  search {case!r}: {count} requests of each scope, taking turns")
        figures = await alternating(requests, count=count, max_seconds=120)
        results[case] = {
            name: {"matches_on_page": matches[name], **figures[name]} for name in requests
        }
    return results


async def _explain_searches(context: BenchContext) -> dict[str, Any]:
    """The plan of each search statement, as the gateway builds it, with its actual times."""
    engine = create_engine(context.stack.url, pool_size=1)
    plans: dict[str, Any] = {}
    user = context.dataset.search_user
    try:
        async with engine.connect() as connection:
            for case, word in SEARCH_CASES.items():
                for scope, inbox in (("everything visible", None), ("personal space only", True)):
                    close = await reads.close_words(connection, user, [word])
                    page = reads.page_statement(
                        user_id=user,
                        query=reads.TaskQuery(text=word, inbox=inbox),
                        order=None,
                        first=20,
                        after=None,
                        now=datetime.now(UTC),
                        close=close,
                    )
                    plans.setdefault(case, {})[scope] = await _explain(connection, page.statement)
            # totalCount of the same searches, and of no filter, over everything visible.
            counted: dict[str, str | None] = {**SEARCH_CASES, "no filter": None}
            for case, text in counted.items():
                words = reads.search_words(text)
                close = await reads.close_words(connection, user, words) if words else {}
                query = reads.TaskQuery(text=text)
                count = reads.count_statement(
                    user_id=user, query=query, now=datetime.now(UTC), close=close
                )
                plans.setdefault("totalCount", {})[case] = await _explain(connection, count)
    finally:
        await engine.dispose()
    return plans


async def _explain(connection: AsyncConnection, statement: Any) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) of a statement the gateway builds: times and plan."""
    compiled = statement.compile(dialect=connection.dialect)
    arguments = tuple(compiled.params[name] for name in compiled.positiontup or ())
    explain = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + compiled.string
    # Twice: the first warms the buffers, as the timed requests before it did.
    explained: Any = None
    for _ in range(2):
        explained = (await connection.exec_driver_sql(explain, arguments)).scalar()
    plan = (explained if isinstance(explained, list) else json.loads(explained))[0]
    return {
        "execution_ms": plan["Execution Time"],
        "planning_ms": plan["Planning Time"],
        "plan": plan["Plan"],
    }


async def _sessions(context: BenchContext) -> int:
    """How many sessions the database has had (pg_stat_database counts every connection)."""
    connection = await asyncpg.connect(plain_url(context.stack.url))
    try:
        found = await connection.fetchval(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        )
    finally:
        await connection.close()
    return int(found)


async def _page(context: BenchContext) -> dict[str, Any]:
    """The shared project's page and today's page: throughput rounds and latency, in turns."""
    shared = context.dataset.shared
    # Both pages registered, as the web app's are: gateways of their own with the manifest.
    registered = {"TASKSTREAM_GRAPHQL_TRUSTED_DOCUMENTS": str(registered_documents(PROJECT_PAGE))}
    gateway = context.stack.gateway(env=registered)
    url = gateway + "/graphql"
    requests = {
        "shared project page": Request.graphql(
            url,
            PROJECT_PAGE,
            {"project": str(shared.page_project)},
            token=context.token(shared.page_reader),
        ),
        "today's page": Request.graphql(
            url, GATEWAY_PAGE, token=context.token(context.dataset.page_user)
        ),
    }
    servers = {name: context.stack.by_url[gateway] for name in requests}
    baseline_tree = os.environ.get("TASKSTREAM_BENCH_BASELINE")
    if baseline_tree:
        baseline = context.stack.gateway(Path(baseline_tree), env=registered)
        requests[BASELINE_PAGE] = Request.graphql(
            baseline + "/graphql",
            PROJECT_PAGE,
            {"project": str(shared.page_project)},
            token=context.token(shared.page_reader),
        )
        servers[BASELINE_PAGE] = context.stack.by_url[baseline]
        # The same document, so the same JSON once parsed.
        assert await fetch_json(requests[BASELINE_PAGE]) == await fetch_json(
            requests["shared project page"]
        ), "the baseline gateway answers otherwise"
    project_rows = _rows(await fetch_json(requests["shared project page"]))
    assert len(project_rows) == 50, project_rows
    subtasks = sum(len(row["subtasks"]) for row in project_rows)
    assert subtasks > 0, "the shared project's page carries no subtasks"
    assert len(_rows(await fetch_json(requests["today's page"]))) == 50
    context.log(f"  pages: {subtasks} subtasks on the shared project's page")

    sequential_count = 20 if context.quick else 200
    context.log(f"  latency: {sequential_count} requests of each page, taking turns")
    latency = await alternating(requests, count=sequential_count, max_seconds=180)
    clients, count = (8, 300) if context.quick else (16, 2000)
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in requests}
    for round_number in range(1 if context.quick else 2):
        for name, request in requests.items():
            context.log(f"  round {round_number + 1}: {name}, {count} requests, {clients} clients")
            server = servers[name]
            used, sessions = server.cpu_seconds(), await _sessions(context)
            result = await run_load(request, clients=clients, requests=count, warmup=100)
            assert result["failures"] == 0, (name, result)
            # The gateway's own CPU, and the PostgreSQL connections it opened (a request whose
            # loaders want more connections than the pool keeps opens and closes overflow ones).
            served = result["requests"] + 100
            result["server_cpu_ms_per_request"] = round(
                (server.cpu_seconds() - used) * 1000 / served, 2
            )
            result["connections_opened_per_request"] = round(
                (await _sessions(context) - sessions) / served, 3
            )
            rounds[name].append(result)
    best = {name: max(runs, key=lambda r: r["throughput_rps"]) for name, runs in rounds.items()}
    return {
        "subtasks_on_page": subtasks,
        "latency_one_at_a_time": latency,
        "clients": clients,
        "requests_per_round": count,
        "best": best,
        "rounds": rounds,
    }


# The member's other lists, as the web app asks them (without totalCount: the default list's
# figures show the count's part): filtered by one of a project's tags, which a scope without
# that tag no longer reads; sorted by priority, whose sort menu entry descends by default.
OTHER_LISTS: dict[str, tuple[dict[str, Any], list[dict[str, str]] | None]] = {
    "open tasks filtered by a project's tag": ({"status": "OPEN", "anyTags": ["ptag1"]}, None),
    "open tasks by priority, descending": (
        {"status": "OPEN"},
        [{"field": "PRIORITY", "direction": "DESC"}],
    ),
}
MEMBER, PAGE_USER = "member of 91 projects", "page user, no project"


async def _member_lists(context: BenchContext, count: int) -> dict[str, Any]:
    """The web app's lists for the member of many projects and for the page user, in turns."""
    url = context.gateway_url + "/graphql"
    users = {MEMBER: context.dataset.search_user, PAGE_USER: context.dataset.page_user}
    lists: dict[str, tuple[bool, dict[str, Any], list[dict[str, str]] | None]] = {
        "": (True, {"status": "OPEN"}, None),
        ", without totalCount": (False, {"status": "OPEN"}, None),
        **{f", {name}": (False, *how) for name, how in OTHER_LISTS.items()},
    }
    requests = {}
    for label, user in users.items():
        for suffix, (counted, list_filter, order) in lists.items():
            requests[label + suffix] = Request.graphql(
                url,
                web_list_document(total_count=counted),
                {"filter": list_filter, "orderBy": order, "first": 50},
                token=context.token(user),
            )
    # The calendar's month as it opens (a month of the data set's due dates).
    month = {"dueFrom": "2028-04-01T00:00:00Z", "dueTo": "2028-05-06T00:00:00Z"}
    for label, user in users.items():
        requests[f"{label}, calendar's month"] = Request.graphql(
            url,
            web_calendar_document(),
            {
                "dated": month,
                "repeating": {"recurring": True, "status": "OPEN", "dueTo": month["dueTo"]},
                "first": 200,
            },
            token=context.token(user),
        )
    for request in requests.values():
        answer = await fetch_json(request)
        assert "errors" not in answer, answer
    context.log(f"  the web app's lists: {count} requests of each, taking turns")
    return await alternating(requests, count=count, max_seconds=240)


async def run(context: BenchContext) -> dict[str, Any]:
    """Search over a member's whole scope; a shared project's page beside today's page."""
    # 100 in a quick run too: a p95 of 20 samples is their second slowest.
    count = 100 if context.quick else 200
    # The machine is shared: how busy it was when the figures were taken.
    load_before = os.getloadavg()
    search = await _search(context, count)
    plans = await _explain_searches(context)
    page = await _page(context)
    member_lists = await _member_lists(context, count)
    comparisons = []
    visible = context.dataset.shared.search_visible_tasks
    for case, figures in search.items():
        goal = GOALS_MS[case]
        p95 = figures["everything visible"]["p95_ms"]
        comparisons.append(
            comparison(
                f"search {case!r} over everything a member sees ({visible:,} tasks): p95",
                value=p95,
                unit="ms",
                peer="same search, personal space only (inbox: true)",
                peer_value=figures["personal space only"]["p95_ms"],
                goal=f"p95 ≤ {goal:.0f} ms",
                met=p95 <= goal,
            )
        )
        for scope in ("everything visible", "personal space only"):
            if scope + BASELINE in figures:
                comparisons.append(
                    comparison(
                        f"search {case!r}, {scope}: p95",
                        value=figures[scope]["p95_ms"],
                        unit="ms",
                        peer=f"the same from {os.environ.get('TASKSTREAM_BENCH_BASELINE')}",
                        peer_value=figures[scope + BASELINE]["p95_ms"],
                    )
                )
    project, today = page["best"]["shared project page"], page["best"]["today's page"]
    comparisons.append(
        comparison(
            "shared project page (50 tasks + subtasks, 10 members): throughput",
            value=project["throughput_rps"],
            unit="req/s",
            peer="today's page: tasks(first: 50) + tags + reminders",
            peer_value=today["throughput_rps"],
            goal=f"≥ today's / {PAGE_RATIO_GOAL:g}",
            met=project["throughput_rps"] * PAGE_RATIO_GOAL >= today["throughput_rps"],
        )
    )
    latency = page["latency_one_at_a_time"]
    ours, theirs = latency["shared project page"]["p50_ms"], latency["today's page"]["p50_ms"]
    comparisons.append(
        comparison(
            "shared project page (50 tasks + subtasks, 10 members): p50, one at a time",
            value=ours,
            unit="ms",
            peer="today's page: tasks(first: 50) + tags + reminders",
            peer_value=theirs,
            goal=f"≤ {PAGE_RATIO_GOAL:g}x today's",
            met=ours <= PAGE_RATIO_GOAL * theirs,
        )
    )
    for suffix in ("", ", without totalCount"):
        member = member_lists[MEMBER + suffix]["p95_ms"]
        comparisons.append(
            comparison(
                f"the web app's default list (open tasks, first 50{suffix or ', totalCount'}) "
                f"of a member who sees {visible:,} tasks: p95",
                value=member,
                unit="ms",
                peer="the same request by the page user (100,000 tasks, no project)",
                peer_value=member_lists[PAGE_USER + suffix]["p95_ms"],
                goal=f"p95 ≤ {DEFAULT_LIST_GOAL_MS:.0f} ms",
                met=member <= DEFAULT_LIST_GOAL_MS,
            )
        )
    for name in [*OTHER_LISTS, "calendar's month"]:
        comparisons.append(
            comparison(
                f"the web app's {name} of that member: p95",
                value=member_lists[f"{MEMBER}, {name}"]["p95_ms"],
                unit="ms",
                peer="the same request by the page user (100,000 tasks, no project)",
                peer_value=member_lists[f"{PAGE_USER}, {name}"]["p95_ms"],
            )
        )
    if BASELINE_PAGE in page["best"]:
        base = page["best"][BASELINE_PAGE]
        label = f"the same page from {os.environ.get('TASKSTREAM_BENCH_BASELINE')}"
        comparisons += [
            comparison(
                f"shared project page, {figure}, this tree",
                value=project[key],
                unit=unit,
                peer=label,
                peer_value=base[key],
            )
            for figure, key, unit in (
                ("throughput", "throughput_rps", "req/s"),
                (
                    "PostgreSQL connections opened per request",
                    "connections_opened_per_request",
                    "/req",
                ),
                ("gateway CPU per request", "server_cpu_ms_per_request", "ms"),
            )
        ]
        comparisons.append(
            comparison(
                "shared project page: p50, one at a time, this tree",
                value=ours,
                unit="ms",
                peer=label,
                peer_value=latency[BASELINE_PAGE]["p50_ms"],
            )
        )
    return {
        "load_average_before_after": [round(load_before[0], 1), round(os.getloadavg()[0], 1)],
        "search_path": "HTTP to the real gateway: tasks(filter: {text[, inbox]}, first: 20)",
        "search": search,
        "search_plans": plans,
        "page": page,
        "member_lists": member_lists,
        "comparisons": comparisons,
    }
