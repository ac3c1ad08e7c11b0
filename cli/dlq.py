"""`taskstream dlq list|show|replay`: look at dead letters and put them back on their topic."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from taskstream.settings import get_settings

if TYPE_CHECKING:
    from taskstream.messaging.deadletters import KafkaDeadLetters

UNREACHABLE = {
    "memory": (
        "memory:// keeps dead letters inside the process that runs the consumers (`taskstream "
        "up`), out of reach of this command; they are logged there as 'handler crashed' and "
        "counted by taskstream_consumer_dead_lettered_total. Give --bus kafka://HOST:PORT to "
        "read a broker's dead-letter topics."
    ),
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
            help="kafka://HOST:PORT[,...] (default: TASKSTREAM_BUS_URL)",
        )
        parser.add_argument(
            "--topic", metavar="T", default=None, help="a topic or its .dlq (default: all)"
        )
        parser.set_defaults(handler=command_dlq)

    listing = actions.add_parser("list", help="one line per dead letter, with why it failed")
    common(listing)
    listing.add_argument("--pending", action="store_true", help="only those not replayed yet")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    show = actions.add_parser("show", help="one dead letter in full: reason and event")
    common(show)
    show.add_argument("--id", required=True, metavar="ID", help="CloudEvent id or position")
    replay = actions.add_parser("replay", help="publish dead letters again to their topic")
    common(replay)
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", metavar="ID", help="CloudEvent id or position")
    which.add_argument("--all", action="store_true", help="every dead letter not replayed yet")


def command_dlq(args: argparse.Namespace) -> int:
    """Run one `dlq` subcommand against the bus's dead-letter topics."""
    url = args.bus or get_settings().bus_url
    scheme = urlsplit(url).scheme
    if scheme in UNREACHABLE:
        print(f"taskstream dlq: {UNREACHABLE[scheme]}", file=sys.stderr)
        return 2
    if scheme != "kafka":
        print(f"taskstream dlq: --bus must be kafka://HOST:PORT, not {url!r}", file=sys.stderr)
        return 2
    from taskstream.messaging.deadletters import KafkaDeadLetters

    letters = KafkaDeadLetters(urlsplit(url).netloc)
    return asyncio.run(_run(letters, args))


async def _run(letters: KafkaDeadLetters, args: argparse.Namespace) -> int:
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
            for letter in await letters.find(args.id, args.topic):
                print(json.dumps(letter.detail(), indent=2, ensure_ascii=False))
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
