"""Permission classes: checks that run before resolvers."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from graphql_schema.context import Info


class IsAuthenticated(BasePermission):
    """The request carries a valid bearer token."""

    message = "a valid bearer token is required"
    error_extensions = {"code": "UNAUTHENTICATED"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        """True when the context holds an authenticated user."""
        return info.context.user_id is not None
