"""Revocations of sessions: which of an account's tokens stop working, broadcast to replicas."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any


@dataclasses.dataclass(frozen=True, slots=True)
class Revocation:
    """Which tokens of an account were revoked: one (jti), all before a generation, or all."""

    user_id: uuid.UUID
    jti: str | None = None
    # Tokens of generations below this one are revoked; None with no jti: every token.
    generation: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The broadcast form."""
        return {"userId": str(self.user_id), "jti": self.jti, "generation": self.generation}

    @classmethod
    def of(cls, raw: Any) -> Revocation | None:
        """The revocation of a broadcast message, or None when it is not one."""
        if not isinstance(raw, dict):
            return None
        try:
            user_id = uuid.UUID(str(raw.get("userId")))
        except ValueError:
            return None
        jti, generation = raw.get("jti"), raw.get("generation")
        return cls(
            user_id,
            jti if isinstance(jti, str) else None,
            generation if isinstance(generation, int) else None,
        )

    def covers(self, jti: str | None, generation: int) -> bool:
        """Whether a token with this id and generation is revoked by this."""
        if self.jti is not None:
            return jti == self.jti
        if self.generation is not None:
            return generation < self.generation
        return True
