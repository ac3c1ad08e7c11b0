"""docs/diagrams.md's state diagrams name exactly the code's states, and its `stack up`
diagram every service the stack runs."""

from __future__ import annotations

import re
from pathlib import Path

from cli.composition import WORKERS
from gateway_core.domain.model import ReminderState, TaskStatus
from workers.notifications.firing import CLAIM_DELIVERIES, FINAL

PAGE = Path(__file__).resolve().parents[2] / "docs" / "diagrams.md"
TRANSITION = re.compile(r"^\s*(\[\*\]|[A-Z_]+) --> (\[\*\]|[A-Z_]+)", re.M)


def section(title: str) -> str:
    """The Mermaid block of the section with this title."""
    text = PAGE.read_text().split(f"## {title}\n", 1)[1]
    return text.split("```mermaid\n", 1)[1].split("```", 1)[0]


def states(block: str) -> set[str]:
    """The states a state diagram's transitions name."""
    return {name for pair in TRANSITION.findall(block) for name in pair} - {"[*]"}


def test_the_task_diagram_has_the_code_s_states() -> None:
    assert states(section("A task's states")) == {status.value for status in TaskStatus}


def test_the_reminder_diagram_has_the_code_s_states() -> None:
    assert states(section("A reminder's states")) == {state.value for state in ReminderState}


def test_the_delivery_diagram_has_the_code_s_states() -> None:
    # The live states are the ones a claim picks up; the final ones end a reminder's firing.
    claimed = re.search(r"state IN \(([^)]*)\)", CLAIM_DELIVERIES.text)
    assert claimed is not None
    live = set(re.findall(r"'([A-Z_]+)'", claimed.group(1)))
    assert states(section("A delivery's states")) == live | set(FINAL)


def test_the_stack_diagram_names_every_service() -> None:
    block = section("`taskstream stack up`: processes and ports")
    for name in ("gateway-1", "gateway-2", *WORKERS):
        assert f"[{name}]" in block, f"no box for {name}"
