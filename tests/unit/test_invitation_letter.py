"""What an invitation email says, and that nothing in it can break out of its Subject line."""

from __future__ import annotations

import uuid

from contracts.gateway_api import Invitation
from workers.notifications.invitations import SUBJECT_PART_MAX, Letter, one_line


def invitation(**fields: str) -> Invitation:
    """An invitation as the gateway answers it."""
    values = {
        "id": str(uuid.uuid4()),
        "project_id": str(uuid.uuid4()),
        "project_name": "Launch",
        "email": "bob@example.com",
        "role": "EDITOR",
        "state": "PENDING",
        "invited_by": str(uuid.uuid4()),
        "invited_by_email": "alice@example.com",
    } | fields
    return Invitation.model_validate(values)


def test_the_letter_names_the_project_the_inviter_the_address_and_the_role() -> None:
    letter = Letter.of(invitation(role="VIEWER"))
    assert letter.subject == "alice@example.com invited you to \u201cLaunch\u201d"
    assert letter.body.startswith(
        "alice@example.com invited bob@example.com to the project \u201cLaunch\u201d on "
        "Taskstream, as a viewer (read only)."
    )


def test_line_breaks_and_long_names_stay_on_one_short_subject_line() -> None:
    letter = Letter.of(invitation(project_name="Plan\r\nBcc: victim@example.com " + "x" * 300))
    assert "\n" not in letter.subject and "\r" not in letter.subject
    assert "Plan Bcc: victim@example.com" in letter.subject
    assert len(one_line("y" * 500)) == SUBJECT_PART_MAX
    assert one_line(" a \t b\n") == "a b"
