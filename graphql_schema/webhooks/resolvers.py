"""Webhook types, query and mutations (the notifications service owns webhooks)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from contracts import notifications as api
from graphql_schema.context import Info
from graphql_schema.ids import WebhookId, parse_id
from graphql_schema.node import Node
from graphql_schema.permissions import IsAuthenticated
from graphql_schema.scalars import DateTime


@strawberry.type(
    name="Webhook", description="An endpoint that receives the caller's WEBHOOK notifications."
)
class Webhook(Node):
    """An endpoint receiving signed notifications."""

    id: strawberry.ID = strawberry.field(description="The webhook's id.")
    url: str = strawberry.field(description="Where notifications are POSTed.")
    created_at: DateTime = strawberry.field(description="When it was registered.")

    @classmethod
    def of(cls, webhook: api.Webhook) -> Webhook:
        """The GraphQL view of a webhook as the notifications service returns it."""
        return cls(
            id=strawberry.ID(str(webhook.id)), url=webhook.url, created_at=webhook.created_at
        )


@strawberry.type(name="WebhookRegistration", description="A new webhook and its signing secret.")
class WebhookRegistration:
    """A new webhook and its signing secret."""

    webhook: Webhook = strawberry.field(description="The registered webhook.")
    secret: str = strawberry.field(
        description="HMAC-SHA256 key for the X-Taskstream-Signature header; shown once."
    )


@strawberry.type
class WebhookQueries:
    """The caller's webhooks."""

    @strawberry.field(
        permission_classes=[IsAuthenticated], description="Every webhook the caller registered."
    )
    async def webhooks(self, info: Info) -> list[Webhook]:
        """Every webhook the caller registered."""
        found = await info.context.services.notifications.list_webhooks(
            api.ListWebhooks(user_id=info.context.require_user())
        )
        return [Webhook.of(w) for w in found.webhooks]


@strawberry.type
class WebhookMutations:
    """Registering and removing webhooks."""

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Registers a URL that receives WEBHOOK-channel notifications, "
            "signed with the returned secret."
        ),
    )
    async def register_webhook(
        self,
        info: Info,
        url: Annotated[
            str,
            strawberry.argument(
                description="An http(s) URL; not loopback, link-local or private unless allowed."
            ),
        ],
    ) -> WebhookRegistration:
        """Register a webhook URL."""
        registered = await info.context.services.notifications.register_webhook(
            api.RegisterWebhook(user_id=info.context.require_user(), url=url)
        )
        return WebhookRegistration(webhook=Webhook.of(registered.webhook), secret=registered.secret)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Removes a webhook; its queued deliveries are cancelled. Returns its id.",
    )
    async def delete_webhook(self, info: Info, id: WebhookId) -> strawberry.ID:
        """Remove a webhook."""
        webhook_id = parse_id(id, "webhook")
        deleted = await info.context.services.notifications.delete_webhook(
            api.DeleteWebhook(user_id=info.context.require_user(), webhook_id=webhook_id)
        )
        return strawberry.ID(str(deleted.id))
