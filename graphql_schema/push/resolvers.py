"""Web Push types, query and mutations: the browsers that receive the PUSH channel."""

from __future__ import annotations

from typing import Annotated

import strawberry

from contracts import notifications as api
from graphql_schema.context import Info
from graphql_schema.node import Node
from graphql_schema.permissions import IsAuthenticated
from graphql_schema.scalars import DateTime

ENDPOINT_DESCRIPTION = (
    "The PushSubscription's endpoint: an https:// URL of the browser's push service "
    f"(at most {api.PUSH_ENDPOINT_MAX} characters)."
)


@strawberry.type(
    name="PushSubscription",
    description="A browser that receives the caller's PUSH notifications (Web Push).",
)
class PushSubscription(Node):
    """A browser subscribed to Web Push."""

    id: strawberry.ID = strawberry.field(description="The subscription's id.")
    endpoint: str = strawberry.field(description="Its push service's endpoint.")
    created_at: DateTime = strawberry.field(description="When the browser subscribed.")

    @classmethod
    def of(cls, subscription: api.PushSubscription) -> PushSubscription:
        """The GraphQL view of a subscription as the notifications service returns it."""
        return cls(
            id=strawberry.ID(str(subscription.id)),
            endpoint=subscription.endpoint,
            created_at=subscription.created_at,
        )


@strawberry.type(
    name="PushSetup",
    description="What a browser needs to subscribe to Web Push, and who already did.",
)
class PushSetup:
    """The VAPID key and the caller's subscriptions."""

    public_key: str | None = strawberry.field(
        description=(
            "The VAPID application server key (base64url) to pass to "
            "PushManager.subscribe; null when the server has push off."
        )
    )
    subscriptions: list[PushSubscription] = strawberry.field(
        description=f"The caller's subscribed browsers, oldest first (at most "
        f"{api.PUSH_SUBSCRIPTIONS_MAX})."
    )


@strawberry.type
class PushQueries:
    """The caller's Web Push set-up."""

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The VAPID public key and the caller's subscribed browsers.",
    )
    async def push_setup(self, info: Info) -> PushSetup:
        """The VAPID public key and the caller's subscriptions."""
        found = await info.context.services.notifications.list_push_subscriptions(
            api.ListPushSubscriptions(user_id=info.context.require_user())
        )
        return PushSetup(
            public_key=found.public_key,
            subscriptions=[PushSubscription.of(s) for s in found.subscriptions],
        )


@strawberry.type
class PushMutations:
    """Subscribing and unsubscribing browsers."""

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Subscribes this browser to the caller's PUSH notifications (the fields of its "
            "PushSubscription); subscribing the same endpoint again replaces its keys."
        ),
    )
    async def subscribe_push(
        self,
        info: Info,
        endpoint: Annotated[str, strawberry.argument(description=ENDPOINT_DESCRIPTION)],
        p256dh: Annotated[
            str,
            strawberry.argument(description="The subscription's P-256 public key (base64url)."),
        ],
        auth: Annotated[
            str,
            strawberry.argument(description="The subscription's 16-byte auth secret (base64url)."),
        ],
    ) -> PushSubscription:
        """Subscribe a browser to push."""
        subscribed = await info.context.services.notifications.register_push_subscription(
            api.RegisterPushSubscription(
                user_id=info.context.require_user(), endpoint=endpoint, p256dh=p256dh, auth=auth
            )
        )
        return PushSubscription.of(subscribed)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Unsubscribes the caller's browser at this endpoint. Returns its id.",
    )
    async def unsubscribe_push(
        self,
        info: Info,
        endpoint: Annotated[str, strawberry.argument(description=ENDPOINT_DESCRIPTION)],
    ) -> strawberry.ID:
        """Unsubscribe a browser from push."""
        deleted = await info.context.services.notifications.delete_push_subscription(
            api.DeletePushSubscription(user_id=info.context.require_user(), endpoint=endpoint)
        )
        return strawberry.ID(str(deleted.id))
