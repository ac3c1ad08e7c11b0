"""Errors the domain and services raise; the gateway maps each to a GraphQL error code."""

from __future__ import annotations


class TaskstreamError(Exception):
    """Base of every error meant to reach a client with a stable code."""

    code = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @classmethod
    def from_message(cls, message: str) -> TaskstreamError:
        """The error with this exact message, as another service reported it."""
        error = cls.__new__(cls)
        TaskstreamError.__init__(error, message)
        return error


class InvalidInput(TaskstreamError):
    """Input broke a rule; the message names the field and what is allowed."""

    code = "BAD_USER_INPUT"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class NotFound(TaskstreamError):
    """The object does not exist, or belongs to someone else (reported identically)."""

    code = "NOT_FOUND"

    def __init__(self, kind: str, object_id: object) -> None:
        super().__init__(f"{kind} {object_id} not found")
        self.kind = kind


class Conflict(TaskstreamError):
    """The change collides with the current state (duplicate email, stale version, ...)."""

    code = "CONFLICT"


class Forbidden(TaskstreamError):
    """The caller may see the object but their role does not allow this change."""

    code = "FORBIDDEN"


class Unauthenticated(TaskstreamError):
    """No valid bearer token was presented."""

    code = "UNAUTHENTICATED"

    def __init__(self, message: str = "a valid bearer token is required") -> None:
        super().__init__(message)


class RateLimited(TaskstreamError):
    """Too many attempts in the current window."""

    code = "RATE_LIMITED"


class CostLimitExceeded(TaskstreamError):
    """An operation's static cost is above the budget (graphql_schema/cost.py)."""

    code = "COST_LIMIT"


class Timeout(TaskstreamError):
    """The request passed its deadline or a statement its timeout; nothing was changed."""

    code = "TIMEOUT"

    def __init__(
        self, message: str = "the request took too long and was stopped; nothing was changed"
    ) -> None:
        super().__init__(message)


# How long a client should wait before retrying when the database cannot be reached: about
# what a PostgreSQL restart or a failover takes; `extensions.retryAfter` and `Retry-After`.
UNAVAILABLE_RETRY_AFTER_SECONDS = 5


class Unavailable(TaskstreamError):
    """The database cannot serve the request now (down, out of disk, read-only, pool exhausted).

    Retryable. `committing` says the connection failed while COMMIT was on its way, so the
    change may or may not have been saved; otherwise nothing was changed.
    """

    code = "UNAVAILABLE"

    def __init__(
        self,
        message: str | None = None,
        *,
        committing: bool = False,
        retry_after: int = UNAVAILABLE_RETRY_AFTER_SECONDS,
    ) -> None:
        if message is None:
            message = (
                "the database became unavailable while saving; the change may or may not have "
                "been saved: read it back, then retry"
                if committing
                else "the database is unavailable right now; nothing was changed; retry later"
            )
        super().__init__(message)
        self.committing = committing
        self.retry_after = retry_after
