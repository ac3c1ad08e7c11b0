"""CPU-heavy domain work (recurrence expansion) run off the event loop, in a few threads."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import anyio
import anyio.to_thread

_P = ParamSpec("_P")
_T = TypeVar("_T")

# Threads that may expand rules at once: more would only share the GIL, and a queue of callers
# waiting for a slot keeps the event loop free (each expansion is bounded by its work budget).
EXPANSION_THREADS = 2


@functools.cache
def _limiter() -> anyio.CapacityLimiter:
    # Created on first use, inside the running event loop.
    return anyio.CapacityLimiter(EXPANSION_THREADS)


async def off_loop(function: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """The result of ``function(*args, **kwargs)`` computed in one of the expansion threads."""
    return await anyio.to_thread.run_sync(
        functools.partial(function, *args, **kwargs), limiter=_limiter()
    )
