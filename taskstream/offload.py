"""CPU-heavy domain work (recurrence expansion) run off the event loop, in a few threads.

The threads share the GIL with the loop: their expansions pause about every millisecond
(`pausing_for_the_loop`), so the loop waits at most that long for the GIL.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import anyio
import anyio.to_thread

from taskstream.recurrence import pausing_for_the_loop

_P = ParamSpec("_P")
_T = TypeVar("_T")

# Threads that may expand rules at once. One: expansions are pure Python, so a second thread
# never ran beside the first, it only took the GIL whenever the first paused for the loop (one
# account's two aliased expansions took other users' page p99 to 95 ms with two threads, 67 ms
# with one: bench/abuse.py's attack, per hostile request). Callers queue for the slot, off the
# loop; each expansion is bounded by its work budget.
EXPANSION_THREADS = 1


@functools.cache
def _limiter() -> anyio.CapacityLimiter:
    # Created on first use, inside the running event loop.
    return anyio.CapacityLimiter(EXPANSION_THREADS)


async def off_loop(function: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """The result of ``function(*args, **kwargs)`` computed in one of the expansion threads."""
    return await anyio.to_thread.run_sync(
        functools.partial(_pausing, function, *args, **kwargs), limiter=_limiter()
    )


def _pausing(function: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    with pausing_for_the_loop():
        return function(*args, **kwargs)
