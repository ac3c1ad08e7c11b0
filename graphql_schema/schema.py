"""Assembles the feature slices into one schema with the contract's limits and error codes."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from graphql import ASTValidationRule
from graphql.error import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    SchemaExtension,
)
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.config import StrawberryConfig

from graphql_schema.audit.resolvers import AuditQueries
from graphql_schema.auth.resolvers import AccountMutations, AuthMutations, AuthQueries
from graphql_schema.cost import CostLimit
from graphql_schema.documents import (
    CachedValidation,
    LearnValidation,
    OperationSelection,
    ValidDocuments,
)
from graphql_schema.errors import ContractErrors
from graphql_schema.execution import PlainLeafExecution
from graphql_schema.filters.resolvers import SavedFilterMutations, SavedFilterQueries
from graphql_schema.guards import guard_root_fields
from graphql_schema.input_plans import plan_inputs
from graphql_schema.nesting import SelectionNesting
from graphql_schema.notifications.resolvers import NotificationMutations, NotificationQueries
from graphql_schema.persisted import TrustedDocumentsOnly, trusted_documents_of
from graphql_schema.projects.resolvers import ProjectMutations, ProjectQueries
from graphql_schema.projects.subscriptions import ProjectSubscriptions
from graphql_schema.push.resolvers import PushMutations, PushQueries
from graphql_schema.reminders.resolvers import ReminderMutations
from graphql_schema.scalars import SCALAR_MAP
from graphql_schema.structure.resolvers import StructureMutations
from graphql_schema.tags.resolvers import TagMutations, TagQueries
from graphql_schema.tasks.mutations import TaskMutations
from graphql_schema.tasks.queries import TaskQueries
from graphql_schema.tasks.subscriptions import Subscription as TaskSubscriptions
from graphql_schema.webhooks.resolvers import WebhookMutations, WebhookQueries
from taskstream.settings import Settings


@strawberry.type(description="Everything a client can read; every field needs a bearer token.")
class Query(
    AuthQueries,
    TaskQueries,
    TagQueries,
    NotificationQueries,
    AuditQueries,
    WebhookQueries,
    PushQueries,
    ProjectQueries,
    SavedFilterQueries,
):
    """Everything a client can read."""


@strawberry.type(
    description="Everything a client can change; all but signUp and logIn need a token."
)
class Mutation(
    AuthMutations,
    AccountMutations,
    TaskMutations,
    ReminderMutations,
    TagMutations,
    NotificationMutations,
    WebhookMutations,
    PushMutations,
    ProjectMutations,
    SavedFilterMutations,
    StructureMutations,
):
    """Everything a client can change."""


@strawberry.type(
    description="Live updates over graphql-transport-ws; authenticate in connection_init."
)
class Subscription(TaskSubscriptions, ProjectSubscriptions):
    """Live updates for the caller."""


class ContractSchema(strawberry.Schema):
    """Logs only errors that were not meant for the client (the others are expected)."""

    def process_errors(self, errors: list[GraphQLError], execution_context: object = None) -> None:
        """Leave logging to ContractErrors, which logs the unexpected ones once."""


def build_schema(settings: Settings) -> strawberry.Schema:
    """The schema with depth, alias and token limits; introspection off in production;
    only registered documents for most callers when the trusted-documents policy is on."""
    trusted = trusted_documents_of(settings)
    documents = ValidDocuments(pinned=trusted.documents.values())
    # The depth and alias rules are stateless classes, made once here: QueryDepthLimiter and
    # MaxAliasesLimiter make a new class in every operation (about 1 % of a createTask's CPU).
    document_rules: list[type[ASTValidationRule]] = [
        depth_rule(settings.graphql_max_depth, should_ignore=None),
        alias_rule(settings.graphql_max_aliases),
    ]
    # Factories, not instances: Strawberry builds fresh extensions for every operation.
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        lambda: AddValidationRules(document_rules),
        lambda: MaxTokensLimiter(max_token_count=settings.graphql_max_tokens),
        # "Did you mean ...?" would spell out the schema introspection is hiding.
        lambda: ContractErrors(suggestions=not settings.is_production),
        # Skips parsing and validation (limits included) of text seen before: valid, or refused
        # by the rules (LearnValidation records which).
        lambda: CachedValidation(documents),
        # Several operations and no operationName: a request error, before anything runs.
        OperationSelection,
    ]
    if trusted.only:
        # An unregistered document from a caller not allowed others: no rule runs over it.
        extensions.append(lambda: TrustedDocumentsOnly(trusted))
    extensions += [
        # After the cache (known documents passed it): fragment chains the depth limit does
        # not count would make the validation rules recurse past Python's limit.
        lambda: SelectionNesting(limit=3 * settings.graphql_max_depth),
        # Last before the rules run: keeps their verdict, valid or refused, for the next time.
        lambda: LearnValidation(documents),
        # Input list caps and the cost budget: after validation, before any resolver.
        lambda: CostLimit(
            budget=settings.graphql_max_cost, points_per_ms=settings.graphql_cost_points_per_ms
        ),
    ]
    if settings.is_production:
        extensions.append(DisableIntrospection)
    schema = ContractSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        execution_context_class=PlainLeafExecution,
        config=StrawberryConfig(
            auto_camel_case=True,
            scalar_map=SCALAR_MAP,
            # "Did you mean ...?" would spell out the schema introspection is hiding.
            disable_field_suggestions=settings.is_production,
        ),
    )
    # Text checks and the mutation budget concern root fields only: wrapped there, once.
    guard_root_fields(schema._schema)
    plan_inputs(schema)
    return schema


SCHEMA_FILE = "schema.graphql"
