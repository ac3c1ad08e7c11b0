"""Maps every error to a contract code and masks anything internal."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from graphql import GraphQLResolveInfo
from graphql.error import GraphQLError
from strawberry.exceptions import StrawberryGraphQLError
from strawberry.extensions import MaskErrors, SchemaExtension

from taskstream.domain.errors import TaskstreamError

log = logging.getLogger("taskstream.graphql")

INTERNAL_MESSAGE = "internal error; it has been logged"


def _code_of(error: GraphQLError) -> str | None:
    """The contract code of an error, or None when it must be masked."""
    original = error.original_error
    if isinstance(original, TaskstreamError):
        return original.code
    if original is None or isinstance(original, GraphQLError):
        # Syntax, validation, limits and variable coercion: the client sent something wrong.
        code = (error.extensions or {}).get("code")
        return code if isinstance(code, str) else "BAD_USER_INPUT"
    if error.path is None and isinstance(original, ValueError):
        # A custom scalar (DateTime) refusing a literal written in the document: validation
        # wraps the scalar's ValueError, whose text is ours and names what is allowed.
        return "BAD_USER_INPUT"
    return None


class ContractErrors(MaskErrors):
    """Gives each error `extensions.code`; unexpected ones become INTERNAL with no details."""

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
                message = (
                    original.message if isinstance(original, TaskstreamError) else error.message
                )
            processed.append(
                StrawberryGraphQLError(
                    message,
                    nodes=error.nodes,
                    source=error.source,
                    positions=error.positions,
                    path=error.path,
                    extensions={"code": code},
                )
            )
        return processed


# Limited per account and address by RateLimits.login_attempt instead.
ACCOUNT_MUTATIONS = frozenset({"signUp", "logIn"})


class MutationRateLimit(SchemaExtension):
    """Counts each top-level mutation field against its caller's budget before it runs."""

    def resolve(
        self,
        _next: Callable[..., Any],
        root: Any,
        info: GraphQLResolveInfo[Any],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """RATE_LIMITED instead of running a mutation past the caller's limit."""
        top_level = info.parent_type.name == "Mutation" and info.path.prev is None
        if top_level and info.field_name not in ACCOUNT_MUTATIONS:
            context = info.context
            if context.user_id is not None:
                context.services.limits.mutation(str(context.user_id))
        return _next(root, info, *args, **kwargs)
