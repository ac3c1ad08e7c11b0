"""The static cost of an operation and the caps on input lists, both checked before execution.

The model follows Shopify's calculated query cost (requested cost, computed from the document
before it runs): an object costs 1, a scalar or enum 0, a connection 2 plus its page size times
the cost of one item, a mutation 10, and nested lists multiply. GitHub's node limit (the product
of nested `first` arguments, summed) is the object part of the same sum, so it is not a second
budget here: every object returned costs at least 1. Unlike both, fields whose work is not an
object read are priced by their arguments (recurrence expansion, text search, chain
verification, password hashing): see PRICES. The cost is an upper bound: list sizes are the
requested ones (or the documented maximum when a variable is missing), every branch of an
abstract type and every @skip/@include whose condition is unknown is counted, and a field
selected twice (through two fragments) is counted twice although it runs once.

graphql-complexity and costql were considered: both are young, thin and price fields only by
static weights, not by arguments such as `limit` or `filter.text`; this walk over graphql-core's
AST is short, and it is linear in the document (fragment costs are memoised, so fragments that
spread each other twice cannot make the walk itself exponential).

The cost depends on the variables, so it is computed for every request (the parsed and
validated document is cached by documents.py; this walk is cheap next to executing).

A static model cannot see every cost (an exact count is priced 10 points whether it counts ten
rows or 100,000, which take 150 ms): when TASKSTREAM_GRAPHQL_COST_POINTS_PER_MS is set (20 is
about 50 us of work a point; off by default, see Settings), the time an operation took is taken
from the same bucket after it ran where it is far beyond the static cost (MEASURED_SLACK,
MEASURED_FREE), like GitHub's secondary limit on CPU time. An account that keeps sending work
the model underprices then empties its bucket and waits like one sending the most expensive
requests.
"""

from __future__ import annotations

import math
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLArgument,
    GraphQLError,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    SelectionSetNode,
    Undefined,
    get_named_type,
    is_leaf_type,
    value_from_ast_untyped,
)
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension

from contracts.audit import AUDIT_PAGE_MAX
from contracts.notifications import NOTIFICATIONS_PAGE_MAX, PUSH_SUBSCRIPTIONS_MAX, WEBHOOKS_MAX
from gateway_core.domain.model import REMINDERS_MAX, TAG_NAME_MAX, TAGS_MAX
from gateway_core.domain.projects import (
    INVITATIONS_LISTED_MAX,
    MEMBERS_MAX,
    PENDING_INVITATIONS_MAX,
    PROJECTS_PER_USER_MAX,
)
from gateway_core.domain.saved_filters import SAVED_FILTERS_MAX
from gateway_core.domain.sections import SECTIONS_MAX, SUBTASKS_MAX
from graphql_schema.documents import frozen_variables
from taskstream.errors import CostLimitExceeded, InvalidInput, RateLimited

Variables = dict[str, Any]

# Page sizes of the connections (`first`, 1 to 200, as documented on each field).
PAGE_MAX = 200
# Occurrences of `upcoming` and `previewRecurrence` (documented maximum).
OCCURRENCES_MAX = 100
# A user's tags have no documented maximum; an account with more is priced as if it had this
# many, which keeps `tags { openTaskCount }` honest for ordinary accounts.
TAGS_ASSUMED = 200

OBJECT = 1
CONNECTION = 2
MUTATION = 10
# Expanding one occurrence may take up to 2,000 work units of the recurrence engine (about
# 1.4 ms: a stored rule is accepted only if its occurrences average no more), and one call at
# most 200,000 (a rule stored before that check): measured by `make bench` (bench/abuse.py),
# 100 occurrences of such a rule took 0.22-0.26 s. At 50 a point, the budget's 20,000 points
# hold at most 0.56 s of expansion for accepted rules and about 1 s for the old sparse ones.
OCCURRENCE = 50
# A text search reads every task of the caller (full-text and then typo matching), whatever
# the page size: the price of a full page of 200 tasks with their tags and reminders / 6.
TEXT_SEARCH = 1_000
# Each tag name of a filter adds a subquery over the caller's task tags.
TAG_FILTER = 5
# An exact COUNT over every matching row, not bounded by `first`.
TOTAL_COUNT = 10
# Recomputes SHA-256 over the caller's (or a project's) whole audit chain: unbounded by any
# argument.
VERIFY_CHAIN = 1_000
# A password hash (scrypt/bcrypt class) is tens of milliseconds of CPU by design.
PASSWORD_HASH = 2_000
# Mutations that hash or check a password (the sessions surface of issue 13 included).
PASSWORD_FIELDS = frozenset(
    ("Mutation", name) for name in ("signUp", "logIn", "changePassword", "deleteAccount")
)

# An operation is charged the time its execution took (TASKSTREAM_GRAPHQL_COST_POINTS_PER_MS)
# only beyond four times its static cost, and beyond 1,000 points (50 ms at 20 a millisecond):
# the charge is for work the static model misses by far, not for requests
# slowed by a busy machine or queued behind the same account's others (the web app's re-reads).
MEASURED_SLACK = 4
MEASURED_FREE = 1_000

COST_LIMIT = CostLimitExceeded.code


@dataclass(frozen=True, slots=True)
class Capped:
    """The documented maximum of one input list, and whether its items are tag names."""

    maximum: int
    tag_names: bool = False


# Every list in an input of the schema, by "InputType.field" or "Type.field(argument)".
# tests/security/test_cost.py checks that every input list of the schema is listed here.
LIST_CAPS: dict[str, Capped] = {
    "TaskFilter.priorities": Capped(20),
    "TaskFilter.anyTags": Capped(20, tag_names=True),
    "TaskFilter.allTags": Capped(20, tag_names=True),
    # One entry per sort field is all an ordering can use.
    "Query.tasks(orderBy)": Capped(6),
    "CreateTaskInput.tags": Capped(TAGS_MAX, tag_names=True),
    "UpdateTaskInput.tags": Capped(TAGS_MAX, tag_names=True),
    "CreateTaskInput.reminders": Capped(REMINDERS_MAX),
    "UpdateTaskInput.reminders": Capped(REMINDERS_MAX),
    # IN_APP, EMAIL, WEBHOOK, PUSH.
    "ReminderInput.channels": Capped(4),
}
# A list added to the schema without an entry above still has a bound (and fails the test).
UNLISTED_CAP = Capped(100)


def _int_argument(value: Any, default: int, maximum: int) -> int:
    """A size argument as the resolver will see it, within 0..maximum.

    Out-of-range sizes are clamped, not priced as given: the resolver refuses them with
    BAD_USER_INPUT naming the argument, which says more than COST_LIMIT would. A value that is
    no Int fails variable coercion before any resolver, whatever it is priced at.
    """
    if isinstance(value, float) and value.is_integer():
        # Int coercion accepts 100.0 as 100.
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return max(0, min(default, maximum))
    return max(0, min(value, maximum))


# (type, field) -> (argument, default, maximum): lists whose size an argument gives.
SIZED_BY_ARGUMENT: dict[tuple[str, str], tuple[str, int, int]] = {
    ("Query", "tasks"): ("first", 50, PAGE_MAX),
    ("Query", "notifications"): ("first", 50, NOTIFICATIONS_PAGE_MAX),
    ("Query", "auditLog"): ("first", 100, AUDIT_PAGE_MAX),
    ("Query", "auditLogOfProject"): ("first", 100, AUDIT_PAGE_MAX),
    ("Query", "previewRecurrence"): ("limit", 5, OCCURRENCES_MAX),
    ("Recurrence", "upcoming"): ("limit", 5, OCCURRENCES_MAX),
}
# (type, field) -> documented or assumed maximum of a list no argument sizes.
FIXED_SIZES: dict[tuple[str, str], int] = {
    ("Task", "tags"): TAGS_MAX,
    ("Task", "reminders"): REMINDERS_MAX,
    ("Query", "tags"): TAGS_ASSUMED,
    ("Query", "webhooks"): WEBHOOKS_MAX,
    ("PushSetup", "subscriptions"): PUSH_SUBSCRIPTIONS_MAX,
    ("Query", "projects"): PROJECTS_PER_USER_MAX,
    ("Project", "members"): MEMBERS_MAX,
    ("Query", "myInvitations"): INVITATIONS_LISTED_MAX,
    ("Query", "projectInvitations"): PENDING_INVITATIONS_MAX,
    ("Query", "savedFilters"): SAVED_FILTERS_MAX,
    # A project's tag set has no documented maximum either: priced like the personal tags.
    ("Query", "projectTags"): TAGS_ASSUMED,
    # Structure: nested subtasks multiply (at most 4 levels, and the query depth limit).
    ("Task", "subtasks"): SUBTASKS_MAX,
    ("Project", "sections"): SECTIONS_MAX,
}
# A list of objects missing above (a field added later): priced as a long list.
UNKNOWN_LIST = 100
# Connection types: their `edges` list has the size of the enclosing field's page.
CONNECTIONS = frozenset({"TaskConnection", "NotificationConnection", "AuditConnection"})


def _field_price(parent: str, name: str, arguments: dict[str, Any], size: int) -> int:
    """The field's own price, once per parent object, apart from the objects it returns."""
    if (parent, name) == ("Query", "previewRecurrence"):
        return OCCURRENCE * size
    if (parent, name) == ("Recurrence", "upcoming"):
        return OCCURRENCE * size
    if (parent, name) == ("Query", "tasks"):
        given = arguments.get("filter")
        price = 0
        if isinstance(given, dict):
            if given.get("text") not in (None, Undefined):
                price += TEXT_SEARCH
            for key in ("anyTags", "allTags"):
                names = given.get(key)
                if isinstance(names, list):
                    price += TAG_FILTER * min(len(names), LIST_CAPS[f"TaskFilter.{key}"].maximum)
        return price
    if name == "totalCount" and parent in CONNECTIONS:
        return TOTAL_COUNT
    if (parent, name) in (("Query", "verifyAuditLog"), ("Query", "verifyProjectAuditLog")):
        return VERIFY_CHAIN
    if (parent, name) in PASSWORD_FIELDS:
        return PASSWORD_HASH
    if (parent, name) in (("Tag", "openTaskCount"), ("Project", "openTaskCount")):
        # A COUNT per tag (batched, but its work grows with the tags asked for).
        return OBJECT
    return 0


_FREE_LEAVES: WeakKeyDictionary[GraphQLSchema, frozenset[tuple[str, str]]] = WeakKeyDictionary()


def free_leaves(schema: GraphQLSchema) -> frozenset[tuple[str, str]]:
    """(type, field) of the schema's scalar and enum fields that cost nothing, once per schema."""
    found = _FREE_LEAVES.get(schema)
    if found is None:
        found = frozenset(
            (named.name, name)
            for named in schema.type_map.values()
            if isinstance(named, GraphQLObjectType | GraphQLInterfaceType)
            for name, field in named.fields.items()
            if is_leaf_type(get_named_type(field.type))
            and (named.name, name) not in SIZED_BY_ARGUMENT
            and _field_price(named.name, name, {}, 1) == 0
        )
        _FREE_LEAVES[schema] = found
    return found


@dataclass(frozen=True, slots=True)
class Cost:
    """The requested cost of one operation."""

    requested: int


class _Pricer:
    """Prices one operation of a document with given variables."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode, variables: Variables) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self._fragment_costs: dict[tuple[str, str, int], int] = {}
        self.free = free_leaves(schema)

    def arguments(self, node: FieldNode, field: GraphQLField) -> dict[str, Any]:
        """The field's arguments: given ones with variables resolved, then defaults."""
        values: dict[str, Any] = {}
        for argument in node.arguments or ():
            value = value_from_ast_untyped(argument.value, self.variables)
            # A variable not given leaves the argument unset: its default applies.
            if value is not Undefined:
                values[argument.name.value] = value
        for name, definition in field.args.items():
            if name not in values:
                values[name] = definition.default_value
        return values

    def included(self, node: SelectionNode) -> bool:
        """False only when @skip(if: true) or @include(if: false) is sure to apply."""
        for directive in node.directives or ():
            name = directive.name.value
            if name not in ("skip", "include"):
                continue
            for argument in directive.arguments or ():
                if argument.name.value == "if":
                    condition = value_from_ast_untyped(argument.value, self.variables)
                    if name == "skip" and condition is True:
                        return False
                    if name == "include" and condition is False:
                        return False
        return True

    def selection_cost(self, selections: SelectionSetNode, parent: Any, page: int) -> int:
        """The cost of a selection set on one object of type `parent`."""
        total = 0
        for selection in selections.selections:
            if not self.included(selection):
                continue
            if isinstance(selection, FieldNode):
                total += self.field_cost(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selection_cost(selection.selection_set, target or parent, page)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment_cost(selection.name.value, page)
        return total

    def fragment_cost(self, name: str, page: int) -> int:
        """A named fragment's cost, computed once per page size."""
        fragment = self.fragments.get(name)
        if fragment is None:
            return 0
        target = self.schema.get_type(fragment.type_condition.name.value)
        key = (name, getattr(target, "name", ""), page)
        known = self._fragment_costs.get(key)
        if known is None:
            known = self.selection_cost(fragment.selection_set, target, page)
            self._fragment_costs[key] = known
        return known

    def field_cost(self, node: FieldNode, parent: Any, page: int) -> int:
        """The cost of one field on one object of type `parent`, its sub-selection included."""
        name = node.name.value
        if (parent.name, name) in self.free:
            # Most fields of a document: a scalar read off an object already loaded.
            return 0
        if name.startswith("__") or not isinstance(
            parent, GraphQLObjectType | GraphQLInterfaceType
        ):
            # Introspection and __typename read the schema, not the database.
            return 0
        field = parent.fields.get(name)
        if field is None:
            return 0
        key = (parent.name, name)
        arguments = self.arguments(node, field)
        returned = get_named_type(field.type)
        nullable = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
        listed = isinstance(nullable, GraphQLList)

        size = 1
        sized = SIZED_BY_ARGUMENT.get(key)
        if sized is not None:
            argument, default, maximum = sized
            size = _int_argument(arguments.get(argument, Undefined), default, maximum)
        elif key in FIXED_SIZES:
            size = FIXED_SIZES[key]
        elif name == "edges" and parent.name in CONNECTIONS:
            size = page
        elif listed and isinstance(returned, GraphQLObjectType | GraphQLInterfaceType):
            size = UNKNOWN_LIST

        price = _field_price(parent.name, name, arguments, size)
        if isinstance(returned, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
            inner_page = size if returned.name in CONNECTIONS else page
            child = (
                self.selection_cost(node.selection_set, returned, inner_page)
                if node.selection_set is not None
                else 0
            )
            if returned.name in CONNECTIONS:
                # The page size multiplies inside the connection (its edges), not the
                # connection object itself.
                return price + CONNECTION + child
            return price + size * (OBJECT + child)
        return price


def operation_of(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode:
    """The operation a request runs (validation has made sure there is one)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        raise ValueError("no operation to price")
    return operation


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Variables | None = None,
    operation_name: str | None = None,
) -> Cost:
    """The requested cost of the operation of `document` with these variables."""
    operation = operation_of(document, operation_name)
    pricer = _Pricer(schema, document, _with_defaults(operation, variables or {}))
    root = schema.get_root_type(operation.operation)
    requested = pricer.selection_cost(operation.selection_set, root, 1)
    if operation.operation is OperationType.MUTATION:
        requested += MUTATION * sum(
            1
            for selection in _root_fields(pricer, operation.selection_set)
            if selection.name.value != "__typename"
        )
    return Cost(requested=requested)


def _root_fields(pricer: _Pricer, selections: SelectionSetNode) -> Iterator[FieldNode]:
    """The root fields an operation selects, through fragments (each time it is spread)."""
    for selection in selections.selections:
        if not pricer.included(selection):
            continue
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _root_fields(pricer, selection.selection_set)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = pricer.fragments.get(selection.name.value)
            if fragment is not None:
                yield from _root_fields(pricer, fragment.selection_set)


def _with_defaults(operation: OperationDefinitionNode, variables: Variables) -> dict[str, Any]:
    """The request's variables, with the operation's defaults for those not given."""
    values = dict(variables)
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name not in values and definition.default_value is not None:
            values[name] = value_from_ast_untyped(definition.default_value)
    return values


# ---------------------------------------------------------------------------------------------
# Caps on input lists


def _cap_of(key: str) -> Capped:
    return LIST_CAPS.get(key, UNLISTED_CAP)


def _check_value(value: Any, type_: GraphQLInputType, key: str, path: str) -> None:
    """BAD_USER_INPUT for a list in `value` longer than its cap, or a tag name too long."""
    if value is None or value is Undefined:
        return
    if isinstance(type_, GraphQLNonNull):
        _check_value(value, type_.of_type, key, path)
        return
    if isinstance(type_, GraphQLList):
        if not isinstance(value, list):
            # A single value stands for a list of one (input coercion).
            _check_value([value], type_, key, path)
            return
        cap = _cap_of(key)
        if len(value) > cap.maximum:
            raise InvalidInput(path, f"at most {cap.maximum} entries are allowed")
        for index, item in enumerate(value):
            # Collapsing whitespace is how the domain measures a name (the cheap test first).
            if (
                cap.tag_names
                and isinstance(item, str)
                and len(item) > TAG_NAME_MAX
                and len(" ".join(item.split())) > TAG_NAME_MAX
            ):
                # Named as the domain names it (clean_tag_name): the list, not the entry.
                raise InvalidInput(path, f"tag names must be 1 to {TAG_NAME_MAX} characters")
            _check_value(item, type_.of_type, key, f"{path}[{index}]")
        return
    if isinstance(type_, GraphQLInputObjectType) and isinstance(value, dict):
        for name, field in type_.fields.items():
            if name in value:
                where = f"{path}.{name}" if path else name
                _check_value(value[name], field.type, f"{type_.name}.{name}", where)


def _check_arguments(
    node: FieldNode, parent: str, arguments: dict[str, GraphQLArgument], variables: Variables
) -> None:
    for argument in node.arguments or ():
        name = argument.name.value
        definition = arguments.get(name)
        if definition is None:
            continue
        value = value_from_ast_untyped(argument.value, variables)
        # Fields of an `input` argument are named as the domain names them (guards.py): "tags".
        path = "" if name == "input" else name
        _check_value(value, definition.type, f"{parent}.{node.name.value}({name})", path)


def _check_selections(
    pricer: _Pricer, selections: SelectionSetNode, parent: Any, seen: set[str]
) -> None:
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            if not selection.arguments and selection.selection_set is None:
                continue
            fields = getattr(parent, "fields", None)
            field = fields.get(selection.name.value) if isinstance(fields, dict) else None
            if field is None:
                continue
            _check_arguments(selection, parent.name, field.args, pricer.variables)
            if selection.selection_set is not None:
                returned = get_named_type(field.type)
                _check_selections(pricer, selection.selection_set, returned, seen)
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            target = pricer.schema.get_type(condition.name.value) if condition else parent
            _check_selections(pricer, selection.selection_set, target or parent, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = pricer.fragments.get(name)
            # Once per fragment: its arguments do not depend on where it is spread.
            if fragment is not None and name not in seen:
                seen.add(name)
                target = pricer.schema.get_type(fragment.type_condition.name.value)
                _check_selections(pricer, fragment.selection_set, target, seen)


def check_input_lists(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Variables | None = None,
    operation_name: str | None = None,
) -> None:
    """BAD_USER_INPUT when any input list of the operation is longer than its cap."""
    operation = operation_of(document, operation_name)
    pricer = _Pricer(schema, document, _with_defaults(operation, variables or {}))
    root = schema.get_root_type(operation.operation)
    _check_selections(pricer, operation.selection_set, root, set())


def cost_error(cost: int, budget: int) -> GraphQLError:
    """The COST_LIMIT error of an operation over the budget."""
    return GraphQLError(
        f"query cost {cost:,} exceeds the budget of {budget:,}; ask for fewer or smaller lists",
        extensions={"code": COST_LIMIT},
    )


@dataclass(frozen=True, slots=True)
class Refused:
    """An input list over its cap, as `check_input_lists` refuses it."""

    message: str
    code: str


# Prices kept per document and schema, by operation and variables (a few per document).
PRICES_PER_DOCUMENT = 16


class _Prices:
    """Pricing outcomes of the live documents of one schema: clients send the same documents
    with the same variables again and again, and pricing walks the whole selection. Entries
    go with their document (a finalizer), so this holds no document alive."""

    def __init__(self) -> None:
        self._by_document: dict[int, OrderedDict[Hashable, Cost | Refused]] = {}

    def outcome(
        self,
        document: DocumentNode,
        key: Hashable,
        price: Callable[[], Cost | Refused],
    ) -> Cost | Refused:
        """The document's outcome for `key` (operation and variables), priced once."""
        address = id(document)
        outcomes = self._by_document.get(address)
        if outcomes is None:
            outcomes = self._by_document[address] = OrderedDict()
            weakref.finalize(document, self._by_document.pop, address, None)
        found = outcomes.get(key)
        if found is not None:
            outcomes.move_to_end(key)
            return found
        found = outcomes[key] = price()
        if len(outcomes) > PRICES_PER_DOCUMENT:
            outcomes.popitem(last=False)
        return found


_PRICES: WeakKeyDictionary[GraphQLSchema, _Prices] = WeakKeyDictionary()


def priced(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Variables | None,
    operation_name: str | None,
) -> Cost | Refused:
    """The operation's cost, or its input list over a cap: once per document, operation and
    variables."""

    def price() -> Cost | Refused:
        try:
            check_input_lists(schema, document, variables, operation_name)
        except InvalidInput as refused:
            return Refused(refused.message, refused.code)
        return operation_cost(schema, document, variables, operation_name)

    frozen = frozen_variables(variables or {})
    if frozen is None:
        return price()
    prices = _PRICES.get(schema)
    if prices is None:
        prices = _PRICES[schema] = _Prices()
    return prices.outcome(document, (operation_name, frozen), price)


class CostLimit(SchemaExtension):
    """Refuses operations with an input list over its cap or a cost over the budget.

    Runs when execution starts, after validation and before any resolver; reports the cost of
    accepted queries and mutations in `extensions.cost`.
    """

    def __init__(self, budget: int, *, points_per_ms: float = 0.0) -> None:
        self.budget = budget
        self.points_per_ms = points_per_ms
        self.cost: Cost | None = None

    async def on_execute(self) -> AsyncIterator[None]:
        """Check the operation before graphql-core executes it; after it ran, charge the time
        it took beyond its static cost (queries and mutations)."""
        context = self.execution_context
        document = context.graphql_document
        error: GraphQLError | None = None
        subscription = False
        charged = False
        if document is not None:
            schema = self.execution_context.schema._schema
            variables = context.variables or {}
            operation = get_operation_ast(document, context.operation_name)
            subscription = (
                operation is not None and operation.operation is OperationType.SUBSCRIPTION
            )
            if operation is not None:
                outcome = priced(schema, document, variables, context.operation_name)
                if isinstance(outcome, Refused):
                    # The code rides in the error itself: a raised error (subscriptions)
                    # does not pass through ContractErrors.
                    error = GraphQLError(outcome.message, extensions={"code": outcome.code})
                else:
                    self.cost = outcome
                    if self.cost.requested > self.budget:
                        error = cost_error(self.cost.requested, self.budget)
                    else:
                        error = await self._spend(self.cost.requested)
                        charged = error is None and not subscription
        if error is not None:
            if subscription:
                # Strawberry subscribes whatever the result says: only raising stops it.
                raise error
            context.result = ExecutionResult(data=None, errors=[error])
        began = time.perf_counter()
        yield
        if charged and self.cost is not None and self.points_per_ms > 0:
            took = math.floor((time.perf_counter() - began) * 1000 * self.points_per_ms)
            free = max(MEASURED_SLACK * self.cost.requested, MEASURED_FREE)
            if took > free:
                await self._spend_measured(took - free)

    def _account(self) -> tuple[str, Any] | None:
        """The caller's account id and the services holding its limits (None: anonymous)."""
        caller = self.execution_context.context
        user_id = getattr(caller, "user_id", None)
        services = getattr(caller, "services", None)
        if user_id is None or services is None:
            return None  # anonymous: signUp and logIn have limits of their own
        return str(user_id), services

    async def _spend(self, points: int) -> GraphQLError | None:
        """Charge the caller's bucket of points; RATE_LIMITED when it has too few left."""
        account = self._account()
        if account is None:
            return None
        user_id, services = account
        try:
            await services.limits.query_cost(user_id, points)
        except RateLimited as refused:
            return GraphQLError(refused.message, extensions={"code": refused.code})
        return None

    async def _spend_measured(self, points: int) -> None:
        """Charge what the execution took beyond its static cost (never refused: it ran)."""
        account = self._account()
        if account is not None:
            user_id, services = account
            await services.limits.query_time(user_id, points)

    def get_results(self) -> dict[str, Any]:
        """`extensions.cost` of queries and mutations (not repeated on subscription events)."""
        if self.cost is None:
            return {}
        document = self.execution_context.graphql_document
        operation = (
            get_operation_ast(document, self.execution_context.operation_name)
            if document is not None
            else None
        )
        if operation is None or operation.operation is OperationType.SUBSCRIPTION:
            return {}
        return {"cost": {"requested": self.cost.requested, "budget": self.budget}}
