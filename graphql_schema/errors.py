"""Maps every error to a contract code and masks anything internal."""

from __future__ import annotations

import logging
import re

from graphql.error import GraphQLError
from strawberry.exceptions import StrawberryGraphQLError
from strawberry.extensions import MaskErrors

from taskstream.errors import TaskstreamError, Timeout, Unavailable
from taskstream.persistence.db import is_database_unavailable, is_query_canceled

log = logging.getLogger("taskstream.graphql")

INTERNAL_MESSAGE = "internal error; it has been logged"
# graphql-core's hints: " Did you mean 'x' or 'y'?", "... the enum value 'HIGH'?", "... to use
# an inline fragment on 'Task'?" (names never contain "?"). They spell out the schema that
# production keeps to itself (introspection off), field names, arguments, types, enum values
# and input fields alike; `disable_field_suggestions` covers field names only.
SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def without_suggestions(message: str) -> str:
    """The message with every "Did you mean ...?" hint removed."""
    return SUGGESTION.sub("", message)


def _code_of(error: GraphQLError) -> str | None:
    """The contract code of an error, or None when it must be masked."""
    original = error.original_error
    if isinstance(original, TaskstreamError):
        return original.code
    if original is not None and is_query_canceled(original):
        # A statement passed the request's statement timeout: PostgreSQL cancelled it.
        return Timeout.code
    if original is not None and is_database_unavailable(original):
        # PostgreSQL down, out of disk, read-only, or no pooled connection in time: retryable.
        return Unavailable.code
    if original is None or isinstance(original, GraphQLError):
        # Syntax, validation, limits and variable coercion: the client sent something wrong.
        code = (error.extensions or {}).get("code")
        return code if isinstance(code, str) else "BAD_USER_INPUT"
    if error.path is None and isinstance(original, ValueError):
        # A custom scalar (DateTime) refusing a literal written in the document: validation
        # wraps the scalar's ValueError, whose text is ours and names what is allowed.
        return "BAD_USER_INPUT"
    return None


def _extensions(code: str, original: BaseException | None) -> dict[str, object]:
    """`extensions` of an error: its code, and for UNAVAILABLE the seconds to wait."""
    if code != Unavailable.code:
        return {"code": code}
    wait = original.retry_after if isinstance(original, Unavailable) else Unavailable().retry_after
    return {"code": code, "retryAfter": wait}


class ContractErrors(MaskErrors):
    """Gives each error `extensions.code`; unexpected ones become INTERNAL with no details.

    With `suggestions=False` (production) "Did you mean ...?" hints are taken out of messages.
    """

    def __init__(self, *, suggestions: bool = True) -> None:
        super().__init__()
        self.suggestions = suggestions

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed: list[GraphQLError] = []
        for error in errors:
            code = _code_of(error)
            if code is None:
                log.error(
                    "unexpected error in %s",
                    ".".join(str(p) for p in error.path or ()),
                    exc_info=error.original_error,
                )
                code, message = "INTERNAL", INTERNAL_MESSAGE
            else:
                original = error.original_error
                if isinstance(original, TaskstreamError):
                    message = original.message
                elif code == Timeout.code:
                    # Never the database's text: it may quote the statement.
                    message = Timeout().message
                elif code == Unavailable.code:
                    log.warning(
                        "database unavailable in %s: %s",
                        ".".join(str(p) for p in error.path or ()),
                        original,
                    )
                    message = Unavailable().message
                else:
                    message = error.message
                if not self.suggestions:
                    message = without_suggestions(message)
            processed.append(
                StrawberryGraphQLError(
                    message,
                    nodes=error.nodes,
                    source=error.source,
                    positions=error.positions,
                    path=error.path,
                    extensions=_extensions(code, error.original_error),
                )
            )
        return processed
