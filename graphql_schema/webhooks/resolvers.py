"""Webhook types, query and mutations."""

from __future__ import annotations

import strawberry

from graphql_schema.context import Info
from graphql_schema.ids import parse_id
from graphql_schema.node import Node
from graphql_schema.permissions import IsAuthenticated
from graphql_schema.scalars import DateTime
from taskstream.domain.webhooks import Webhook as DomainWebhook
from taskstream.services import webhooks as service


@strawberry.type(name="Webhook")
class Webhook(Node):
    """An endpoint receiving signed notifications."""

    id: strawberry.ID
    url: str
    created_at: DateTime

    @classmethod
    def of(cls, webhook: DomainWebhook) -> Webhook:
        """The GraphQL view of a webhook."""
        return cls(
            id=strawberry.ID(str(webhook.id)), url=webhook.url, created_at=webhook.created_at
        )


@strawberry.type(name="WebhookRegistration")
class WebhookRegistration:
    """A new webhook and its signing secret."""

    webhook: Webhook
    secret: str = strawberry.field(
        description="HMAC-SHA256 key for the X-Taskstream-Signature header; shown once."
    )


@strawberry.type
class WebhookQueries:
    """The caller's webhooks."""

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def webhooks(self, info: Info) -> list[Webhook]:
        """Every webhook the caller registered."""
        found = await service.list_webhooks(
            uow=info.context.services.uow(), user_id=info.context.require_user()
        )
        return [Webhook.of(w) for w in found]


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
    async def register_webhook(self, info: Info, url: str) -> WebhookRegistration:
        """Register a webhook URL."""
        context = info.context
        webhook, secret = await service.register_webhook(
            uow=context.services.uow(),
            user_id=context.require_user(),
            url=url,
            allow_private=context.services.settings.webhook_allow_private,
            now=context.now,
        )
        return WebhookRegistration(webhook=Webhook.of(webhook), secret=secret)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def delete_webhook(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        """Remove a webhook."""
        deleted = await service.delete_webhook(
            uow=info.context.services.uow(),
            user_id=info.context.require_user(),
            webhook_id=parse_id(id, "webhook"),
            now=info.context.now,
        )
        return strawberry.ID(str(deleted))
