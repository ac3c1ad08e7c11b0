"""`make bench`: every benchmark, in a fixed order, then bench/results/REPORT.md with figures.

Run: .venv/bin/python -m bench.run [--quick] [--only NAME[,NAME]]

The benchmarks that need the big data sets (page_peers, search, shared_projects, create_task,
abuse) share one PostgreSQL loaded once (100,000 tasks for the page user, 1,000,000 for the
search user, partly in shared projects, and a ten-member project of 2,000 tasks with subtasks)
and one real gateway; every other benchmark runs as `python -m bench.NAME` in its own process
group (it starts and stops what it needs), bounded by a timeout. A benchmark module that does
not exist yet is reported as missing, so the ones still being written plug in by name.
Every server started here is stopped at the end, also on failure, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import importlib.util
import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from bench.common import RESULTS, write_result
from bench.report import flat_figures
from bench.stack import REPO, BenchStack, cache_dir

# Benchmarks that run in this process over the shared stack, by module name.
STACK_BENCHMARKS = ("page_peers", "search", "shared_projects", "create_task", "abuse")


# Benchmarks run as their own process: module -> (full args, quick args, result file stem).
PROCESS_BENCHMARKS: dict[str, tuple[list[str], list[str], str]] = {
    "recurrence_next": ([], ["--runs", "500", "--stock-runs", "20"], "recurrence_next"),
    "tasks_page": ([], ["--tasks", "2000", "--requests", "100"], "tasks_page"),
    "reminder_lateness": (
        [],
        ["--reminders", "100", "--window", "5", "--lead", "10"],
        "reminder_lateness",
    ),
    "recurrence_lateness": ([], ["--series", "30", "--rate", "5"], "recurrence_lateness"),
    "dapr_vs_kafka": ([], ["--messages", "50", "--rows", "500"], "backbone"),
    # Owned by other engineers: run as `python -m bench.NAME [--quick]`; each writes
    # bench/results/NAME.json (with a "comparisons" list to get the table rows and a figure).
    "worker_throughput": ([], ["--quick"], "worker_throughput"),
    "audit_throughput": ([], ["--events", "1000"], "audit_throughput"),
    "live_push": ([], ["--quick"], "live_push"),
    "cycle_cpu": ([], ["--cycles", "60"], "cycle_cpu"),
    "project_push": ([], ["--quick"], "project_push"),
    "ws_memory": ([], ["--quick"], "ws_memory"),
    "service_rss": ([], ["--quick"], "service_rss"),
    "shared_counters": ([], ["--requests", "300"], "shared_counters"),
    "tracing_cost": ([], ["--tasks", "2000", "--requests", "100"], "tracing_cost"),
}

ORDER = (
    "recurrence_next",
    *STACK_BENCHMARKS,
    "tasks_page",
    "reminder_lateness",
    "recurrence_lateness",
    "dapr_vs_kafka",
    "worker_throughput",
    "audit_throughput",
    "live_push",
    "cycle_cpu",
    "project_push",
    "ws_memory",
    "service_rss",
    "shared_counters",
    "tracing_cost",
)

SIZES = {"full": (100_000, 1_000_000), "quick": (5_000, 50_000)}


def log(message: str) -> None:
    """Progress on stdout, at once."""
    print(message, flush=True)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so every `finally` stops what it started."""

    def interrupt(number: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def ensure_python_extras() -> None:
    """matplotlib (the `bench` extra) for the figures; installed into .venv when missing."""
    if importlib.util.find_spec("matplotlib") is not None:
        return
    log("==> installing the bench extra (matplotlib) into .venv")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "-e", f"{REPO}[dev,bench]"],
        check=True,
        env={**os.environ, "PIP_CACHE_DIR": str(cache_dir() / "pip")},
    )


def run_process(name: str, quick: bool, timeout: float) -> dict[str, Any]:
    """`python -m bench.NAME` in its own process group, killed with its group on timeout."""
    full_args, quick_args, stem = PROCESS_BENCHMARKS[name]
    result_file = RESULTS / f"{stem}.json"
    before = result_file.stat().st_mtime if result_file.exists() else 0.0
    env = {**os.environ, **({"TASKSTREAM_BENCH_QUICK": "1"} if quick else {})}
    process = subprocess.Popen(
        [sys.executable, "-m", f"bench.{name}", *(quick_args if quick else full_args)],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        code = process.wait(timeout=timeout)
    except (subprocess.TimeoutExpired, KeyboardInterrupt) as error:
        _stop_group(process)
        if isinstance(error, KeyboardInterrupt):
            raise
        return {"status": "failed", "note": f"timed out after {timeout:.0f} s"}
    if code != 0:
        return {"status": "failed", "note": f"exited with {code}"}
    if not result_file.exists() or result_file.stat().st_mtime <= before:
        return {"status": "failed", "note": f"wrote no {result_file.name}"}
    return recorded_section(name)


def recorded_section(name: str) -> dict[str, Any]:
    """A benchmark's report section from its result file (the latest run of it)."""
    stem = PROCESS_BENCHMARKS[name][2] if name in PROCESS_BENCHMARKS else name
    result_file = RESULTS / f"{stem}.json"
    record = json.loads(result_file.read_text())
    adapter = ADAPTERS.get(name)
    comparisons = adapter(record) if adapter else record.get("comparisons", [])
    section = {"status": "ran", "result_file": result_file.name, "comparisons": comparisons}
    if not comparisons:
        section["figures"] = flat_figures(record)
    return section


def earlier_sections(skipped: list[str]) -> dict[str, dict[str, Any]]:
    """Sections of benchmarks --only left out, from their last recorded results, marked so."""
    found: dict[str, dict[str, Any]] = {}
    for name in skipped:
        stem = PROCESS_BENCHMARKS[name][2] if name in PROCESS_BENCHMARKS else name
        path = RESULTS / f"{stem}.json"
        if not path.exists():
            continue
        try:
            section = recorded_section(name)
        except (KeyError, TypeError, ValueError) as error:  # an older, other shape
            log(f"    cannot read the recorded {path.name}: {error!r}")
            continue
        ran_at = json.loads(path.read_text()).get("ran_at", "an earlier run")
        section["note"] = f"Not re-run this time (--only): recorded at {ran_at}."
        found[name] = section
    return found


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def run_stack(names: list[str], quick: bool) -> dict[str, dict[str, Any]]:
    """Load the data sets once, start the gateway, run these benchmarks over them."""
    from bench.datasets import load
    from bench.runtime import BenchContext

    sections: dict[str, dict[str, Any]] = {}
    page_tasks, search_tasks = SIZES["quick" if quick else "full"]
    with contextlib.closing(BenchStack()) as stack:
        log(f"==> loading {page_tasks:,} + {search_tasks:,} tasks")
        try:
            dataset = asyncio.run(
                load(stack.url, page_tasks=page_tasks, search_tasks=search_tasks, log=log)
            )
            gateway = stack.gateway()
        except Exception as error:  # the other benchmarks still run
            log(f"    setup failed: {error!r}")
            note = f"setup failed: {error!r}"[:500]
            return {name: {"status": "failed", "note": note} for name in names}
        log(f"    loaded in {dataset.seconds:.0f} s")
        context = BenchContext(stack, dataset, gateway, quick=quick, log=log)
        for name in names:
            started = time.perf_counter()
            log(f"==> {name}")
            try:
                module = importlib.import_module(f"bench.{name}")
                result = asyncio.run(module.run(context))
            except Exception as error:  # one failed benchmark must not hide the others
                log(f"    {name} failed: {error!r}")
                for server in stack.servers:
                    log(f"    --- {server.name} output ---\n" + "\n".join(server.output))
                sections[name] = {"status": "failed", "note": repr(error)[:500]}
                continue
            result = {"dataset": dataset.record(), "quick": quick, **result}
            path = write_result(name, result)
            sections[name] = {
                "status": "ran",
                "result_file": path.name,
                "comparisons": result["comparisons"],
            }
            log(f"    done in {time.perf_counter() - started:.0f} s")
    return sections


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks and write the report; 0 unless a benchmark failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument("--only", help="comma-separated benchmark names: " + ", ".join(ORDER))
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="run nothing: rebuild REPORT.md from the recorded bench/results/*.json",
    )
    args = parser.parse_args(argv)
    selected = list(ORDER)
    if args.report_only:
        args.only, selected = "-", []
    elif args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(wanted) - set(ORDER))
        if unknown:
            parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
        selected = [n for n in ORDER if n in wanted]
    ensure_python_extras()
    began = time.perf_counter()
    timeout = 300.0 if args.quick else 900.0
    sections: dict[str, dict[str, Any]] = {}
    with _sigterm_as_interrupt():
        stack_names = [n for n in selected if n in STACK_BENCHMARKS]
        for index, name in enumerate(selected, 1):
            log(f"[{index}/{len(selected)}] {name} ({time.perf_counter() - began:.0f} s so far)")
            if name in STACK_BENCHMARKS:
                if name == stack_names[0]:
                    sections.update(run_stack(stack_names, args.quick))
                continue
            if importlib.util.find_spec(f"bench.{name}") is None:
                sections[name] = {"status": "missing", "note": f"bench/{name}.py does not exist"}
                log(f"    missing: bench/{name}.py does not exist yet")
                continue
            sections[name] = run_process(name, args.quick, timeout)
            log(f"    {sections[name]['status']} {sections[name].get('note', '')}")
    total = time.perf_counter() - began
    header = {
        "ran at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
        "sizes": "as recorded"
        if args.report_only
        else ("quick (smoke test: not the issue's sizes)" if args.quick else "full"),
        "took": f"{total / 60:.1f} min",
    }
    if args.only:
        sections.update(earlier_sections([n for n in ORDER if n not in selected]))
    ordered = [{"name": name, **sections[name]} for name in ORDER if name in sections]
    from bench.report import write_report

    path = write_report(ordered, header)
    log(f"wrote {path} in {total / 60:.1f} min")
    return 1 if any(sections[n]["status"] == "failed" for n in selected if n in sections) else 0


def _recurrence(record: dict[str, Any]) -> list[dict[str, Any]]:
    from bench.stats import comparison

    rows = {row["name"]: row for row in record["results"]}
    ours = rows["Recurrence.upcoming(now, 1)"]["p50_us"]
    cold = rows["Recurrence.upcoming(now, 1), caches cleared"]["p50_us"]
    between = rows["dateutil rrule.between(now, now + 2 days)[0] from DTSTART, naive"]["p50_us"]
    after = rows["dateutil rrule.after(now) from DTSTART, naive"]["p50_us"]
    limit = record["limit_p50_us"]
    cases = [
        ("next occurrence, 20-year daily RRULE: p50", ours, "between()", between, True),
        ("next occurrence, caches cleared: p50", cold, "between()", between, True),
        ("next occurrence, 20-year daily RRULE: p50", ours, "after()", after, False),
    ]
    return [
        comparison(
            figure,
            value=round(value, 1),
            unit="µs",
            peer=f"stock dateutil {peer}",
            peer_value=round(peer_value, 1),
            goal=f"≤ {limit:.0f} µs p50" if judged else None,
            met=value <= limit if judged else None,
        )
        for figure, value, peer, peer_value, judged in cases
    ]


def _backbone(record: dict[str, Any]) -> list[dict[str, Any]]:
    from bench.stats import comparison

    latency, relay = record["latency"], record["relay"]
    return [
        *(
            comparison(
                f"publish→consume {q} through Dapr",
                value=latency["dapr"][f"{q}_ms"],
                unit="ms",
                ours="through Dapr",
                peer="aiokafka directly",
                peer_value=latency["kafka"][f"{q}_ms"],
            )
            for q in ("p50", "p99")
        ),
        comparison(
            "outbox relay through Dapr",
            value=relay["dapr"]["events_per_s"],
            unit="events/s",
            ours="relay through Dapr",
            peer="relay through aiokafka",
            peer_value=relay["kafka"]["events_per_s"],
            goal="≥ 3,000 events/s, per-key order kept",
            met=relay["dapr"]["events_per_s"] >= 3000,
        ),
        *(
            [
                comparison(
                    "outbox relay through Dapr (bulk rounds)",
                    value=relay["dapr"]["events_per_s"],
                    unit="events/s",
                    ours="relay through Dapr",
                    peer="one event per request (before issue 19)",
                    peer_value=relay["dapr_one_per_request"]["events_per_s"],
                ),
                comparison(
                    "outbox relay through Dapr, every event of one key (worst case)",
                    value=relay["dapr_one_key"]["events_per_s"],
                    unit="events/s",
                    ours="relay through Dapr",
                    peer="one event per request (before issue 19)",
                    peer_value=relay["dapr_one_per_request"]["events_per_s"],
                ),
            ]
            if "dapr_one_per_request" in relay
            else []
        ),
    ]


def _reminders(record: dict[str, Any]) -> list[dict[str, Any]]:
    from bench.stats import comparison

    limit_ms = record["limit_seconds"] * 1000
    return [
        comparison(
            f"reminder lateness ({label}): p99",
            value=record[key]["p99_ms"],
            unit="ms",
            peer="the contract's limit",
            peer_value=limit_ms,
            goal="every reminder SENT ≤ 2 s late" if key == "sent" else None,
            met=bool(record["passed"]) if key == "sent" else None,
        )
        for key, label in (("sent", "SENT"), ("notified", "in-app notification"))
    ]


def _tasks_page(record: dict[str, Any]) -> list[dict[str, Any]]:
    from bench.stats import comparison

    return [
        comparison(
            "`taskstream up` start on an existing data dir",
            value=record["warm_start_seconds"],
            unit="s",
            ours="warm start",
            peer="first start (initdb, migrations)",
            peer_value=record["cold_start_seconds"],
        )
    ]


ADAPTERS: dict[str, Callable[[dict[str, Any]], list[dict[str, Any]]]] = {
    "recurrence_next": _recurrence,
    "dapr_vs_kafka": _backbone,
    "reminder_lateness": _reminders,
    "tasks_page": _tasks_page,
}


if __name__ == "__main__":
    sys.exit(main())
