"""Guards of the root fields: text PostgreSQL cannot store, and the mutation rate limit.

Both concern only top-level fields, so they wrap the root fields' resolvers once, when the
schema is built. As schema-extension `resolve` hooks they ran as middleware around every
field of every response (some 700 per page of 50 tasks) to act on a handful.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

from graphql import GraphQLFieldResolver, GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema

from taskstream.errors import InvalidInput

# Limited per account and address by RateLimits.login_attempt instead.
ACCOUNT_MUTATIONS = frozenset({"signUp", "logIn"})


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string inside an argument value, with its path (input.tags[2])."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def unstorable(text: str) -> str | None:
    """Why PostgreSQL would refuse this text, or None when it is fine."""
    if "\x00" in text:
        return "must not contain NUL characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (no lone surrogates)"
    return None


def check_storable(arguments: dict[str, Any]) -> None:
    """BAD_USER_INPUT naming the argument for text with NUL or lone surrogates.

    PostgreSQL text cannot hold U+0000 and UTF-8 cannot encode lone surrogates (which JSON
    escapes can produce), so such input would otherwise surface as an INTERNAL database error.
    """
    for name, value in arguments.items():
        # Fields of an `input` argument are named as the domain names them: "title".
        for path, text in _strings(value, "" if name == "input" else name):
            reason = unstorable(text)
            if reason is not None:
                raise InvalidInput(path, reason)


def _guarded(resolve: GraphQLFieldResolver, *, rate_limited: bool) -> GraphQLFieldResolver:
    """`resolve` behind the text check and, for mutations, the caller's mutation budget."""

    def guarded(root: Any, info: GraphQLResolveInfo[Any], **kwargs: Any) -> Any:
        check_storable(kwargs)
        if rate_limited and info.context.user_id is not None:
            return limited(root, info, **kwargs)
        return resolve(root, info, **kwargs)

    async def limited(root: Any, info: GraphQLResolveInfo[Any], **kwargs: Any) -> Any:
        context = info.context
        # RATE_LIMITED instead of running a mutation past the caller's limit (counted in the
        # shared state: every replica draws on one budget).
        await context.services.limits.mutation(str(context.user_id))
        result = resolve(root, info, **kwargs)
        return await result if inspect.isawaitable(result) else result

    return guarded


def guard_root_fields(schema: GraphQLSchema) -> None:
    """Put every root field of `schema` behind its guards (once per schema)."""
    roots: list[tuple[GraphQLObjectType | None, Callable[[str], bool]]] = [
        (schema.query_type, lambda _: False),
        (schema.mutation_type, lambda name: name not in ACCOUNT_MUTATIONS),
        (schema.subscription_type, lambda _: False),
    ]
    for root, rate_limited in roots:
        for name, field in (root.fields if root is not None else {}).items():
            if field.resolve is not None:
                field.resolve = _guarded(field.resolve, rate_limited=rate_limited(name))
