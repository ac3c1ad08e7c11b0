"""`taskstream dlq list|show|replay`: look at dead letters and put them back on their topic."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from taskstream.settings import Settings, get_settings

if TYPE_CHECKING:
    from taskstream.messaging.deadletters import DeadLetter


class DeadLetters(Protocol):
    """Where dead letters are read and replayed: a broker's .dlq topics, or `up`'s table."""

    async def read(
        self, topic: str | None = None, *, pending_only: bool = False
    ) -> list[DeadLetter]: ...

    async def find(self, event_id: str, topic: str | None = None) -> list[DeadLetter]: ...

    async def replay(self, letters: Sequence[DeadLetter]) -> int: ...


UNREACHABLE = {
    "dapr": (
        "dapr:// has no API to read a topic: give the broker behind the sidecar's pubsub "
        "component, --bus kafka://HOST:PORT (`stack up` writes it to run/stack.json, key 'kafka')."
    ),
}


def add_dlq_command(commands: Any) -> None:
    """Register `dlq` and its subcommands on the top-level parser."""
    dlq = commands.add_parser("dlq", help="list, show and replay dead-lettered messages")
    actions = dlq.add_subparsers(dest="dlq_command", required=True)

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--bus",
            metavar="URL",
            default=None,
            help="kafka://HOST:PORT[,...], or memory:// for `up`'s dead letters in PostgreSQL "
            "(default: TASKSTREAM_BUS_URL)",
        )
        parser.add_argument(
            "--topic", metavar="T", default=None, help="a topic or its .dlq (default: all)"
        )
        parser.add_argument(
            "--data-dir",
            type=Path,
            default=None,
            help="memory:// (`up`): its data directory, when DATABASE_URL is not set",
        )
        parser.set_defaults(handler=command_dlq)

    listing = actions.add_parser("list", help="one line per dead letter, with why it failed")
    common(listing)
    listing.add_argument("--pending", action="store_true", help="only those not replayed yet")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    show = actions.add_parser(
        "show",
        help="the dead letters of one event in full, reason and event, as one JSON array "
        "(one per consumer group that gave it up)",
    )
    common(show)
    show.add_argument("--id", required=True, metavar="ID", help="CloudEvent id or position")
    replay = actions.add_parser("replay", help="publish dead letters again to their topic")
    common(replay)
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", metavar="ID", help="CloudEvent id or position")
    which.add_argument("--all", action="store_true", help="every dead letter not replayed yet")


def command_dlq(args: argparse.Namespace) -> int:
    """Run one `dlq` subcommand against the bus's dead-letter topics (or `up`'s table)."""
    settings = get_settings()
    url = args.bus or settings.bus_url
    scheme = urlsplit(url).scheme
    if scheme in UNREACHABLE:
        print(f"taskstream dlq: {UNREACHABLE[scheme]}", file=sys.stderr)
        return 2
    if scheme == "memory":
        return _on_up_database(settings, args)
    if scheme != "kafka":
        print(
            f"taskstream dlq: --bus must be kafka://HOST:PORT or memory://, not {url!r}",
            file=sys.stderr,
        )
        return 2
    from taskstream.messaging.deadletters import KafkaDeadLetters

    letters = KafkaDeadLetters(urlsplit(url).netloc)
    return asyncio.run(_run(letters, args))


def _on_up_database(settings: Settings, args: argparse.Namespace) -> int:
    """`up`'s dead letters (memory://): in DATABASE_URL's database, or else in the data
    directory's embedded server: the running one, or one started (and stopped) for this."""
    from devstack.datadir import DataDirectoryInUse, DataDirectoryLock
    from devstack.postgres import EmbeddedPostgres

    if settings.database_url is not None:
        return asyncio.run(_run_on(settings.database_url, args))
    # `up`'s default data directory (cli/main.py's default_data_dir: not imported, main imports
    # this module).
    data_dir = args.data_dir or settings.data_dir or Path.home() / ".local" / "share" / "taskstream"
    embedded = EmbeddedPostgres(Path(data_dir).expanduser().resolve() / "postgres")
    if not (embedded.data_dir / "PG_VERSION").exists():
        print(
            f"taskstream dlq: no database in {data_dir}: set DATABASE_URL or give --data-dir",
            file=sys.stderr,
        )
        return 2
    url = embedded.running_url()
    if url is not None:
        return asyncio.run(_run_on(url, args))
    lock = DataDirectoryLock(embedded.data_dir.parent)
    try:
        lock.acquire()
    except DataDirectoryInUse:
        print("taskstream dlq: `taskstream up` is starting there: try again", file=sys.stderr)
        return 2
    try:
        url = embedded.start()
        try:
            return asyncio.run(_run_on(url, args))
        finally:
            embedded.stop()
    finally:
        lock.release()


async def _run_on(database_url: str, args: argparse.Namespace) -> int:
    """Run the subcommand against gateway.dead_letters of this database."""
    from sqlalchemy.exc import ProgrammingError

    from taskstream.persistence.db import create_engine
    from taskstream.persistence.dead_letters import PostgresDeadLetters

    engine = create_engine(database_url, pool_size=2)
    try:
        return await _run(PostgresDeadLetters(engine), args)
    except ProgrammingError as error:
        if "dead_letters" not in str(error):
            raise
        print(
            "taskstream dlq: this database has no dead-letter table yet: run `taskstream "
            "migrate` (or start `taskstream up` once)",
            file=sys.stderr,
        )
        return 2
    finally:
        await engine.dispose()


async def _run(letters: DeadLetters, args: argparse.Namespace) -> int:
    from taskstream.messaging.deadletters import DeadLetterNotFound

    if args.dlq_command == "list":
        found = await letters.read(args.topic, pending_only=args.pending)
        for letter in found:
            print(json.dumps(letter.summary()) if args.json else _line(letter.summary()))
        if not args.json:
            pending = sum(not letter.replayed for letter in found)
            print(f"{len(found)} dead letters, {pending} not replayed", file=sys.stderr)
        return 0
    try:
        if args.dlq_command == "show":
            # One JSON document, however many groups gave the event up (one letter each).
            details = [letter.detail() for letter in await letters.find(args.id, args.topic)]
            print(json.dumps(details, indent=2, ensure_ascii=False))
            return 0
        chosen = (
            [letter for letter in await letters.read(args.topic) if not letter.replayed]
            if args.all
            else await letters.find(args.id, args.topic)
        )
    except DeadLetterNotFound:
        print(f"taskstream dlq: no dead letter has the id {args.id!r}", file=sys.stderr)
        return 1
    count = await letters.replay(chosen)
    print(f"replayed {count} dead letters")
    skipped = len(chosen) - count
    if skipped:
        print(f"{skipped} were not CloudEvents (not replayable)", file=sys.stderr)
    return 0


def _line(summary: dict[str, Any]) -> str:
    """One short line: id, topic, type, group, whether replayed, and the reason."""
    state = "replayed" if summary["replayed"] else "pending"
    return (
        f"{summary['id']}  {summary['topic']}  {summary['type'] or '-'}  "
        f"{summary['group'] or '-'}  {state}  {summary['reason']}"
    )
