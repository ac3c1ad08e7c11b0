"""Input guards that apply to every field: text PostgreSQL cannot store is refused up front."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from graphql import GraphQLResolveInfo
from strawberry.extensions import SchemaExtension

from taskstream.domain.errors import InvalidInput


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


class StorableText(SchemaExtension):
    """BAD_USER_INPUT naming the argument for text with NUL or lone surrogates.

    PostgreSQL text cannot hold U+0000 and UTF-8 cannot encode lone surrogates (which JSON
    escapes can produce), so such input would otherwise surface as an INTERNAL database error.
    """

    def resolve(
        self,
        _next: Callable[..., Any],
        root: Any,
        info: GraphQLResolveInfo[Any],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """Check the arguments of top-level fields (the only ones taking text) first."""
        if info.path.prev is None:
            for name, value in kwargs.items():
                # Fields of an `input` argument are named as the domain names them: "title".
                for path, text in _strings(value, "" if name == "input" else name):
                    reason = unstorable(text)
                    if reason is not None:
                        raise InvalidInput(path, reason)
        return _next(root, info, *args, **kwargs)
