"""What bench.run hands its own benchmarks: the stack, the loaded data, the running gateway."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.datasets import Dataset
from bench.stack import BenchStack


@dataclass
class BenchContext:
    """The shared setup of one run; `quick` asks for small sizes (a smoke test)."""

    stack: BenchStack
    dataset: Dataset
    gateway_url: str
    quick: bool
    log: Callable[[str], None] = print
    _tokens: dict[uuid.UUID, str] = field(default_factory=dict)

    def token(self, user: uuid.UUID) -> str:
        """A bearer token of this user, signed with the gateway's key."""
        if user not in self._tokens:
            self._tokens[user] = self.stack.tokens.issue(user)
        return self._tokens[user]
