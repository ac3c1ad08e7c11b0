"""Registered task-page documents compiled to ONE SQL statement that builds the `data` JSON.

A page of 50 tasks with tags and reminders is some 750 values; even with the execution plans
(graphql_schema/plans.py) each is Python work: a row mapped to a record, the record to a
Strawberry object, each field completed and serialised. For the documents the app registers
(the trusted-documents manifest), the read is compiled once per operation into a plan, and
each request turns the plan into one statement whose single text result IS the `data` object
the general engine would answer (PostgreSQL's json_build_object/json_agg, as PostGraphile and
Hasura do); the HTTP view splices those bytes into the response without decoding them.

What is the same as the general engine, by construction:
- the page's rows come from `reads.page_statement` and the count from `reads.count_statement`
  (visibility, filters, ordering, keyset cursor, limit: the same code), fed by the resolver's
  own translation of the arguments (`page_arguments`);
- arguments are coerced by graphql-core and converted by Strawberry as for the resolver, and
  every check that could refuse them (authentication, `first` range, a bad cursor, text the
  database cannot store) is left to the general engine: whenever anything is unusual, the
  request runs there instead and answers exactly as before, errors and codes included;
- cost accounting, rate limits, validation and the statement timeout run outside execution
  and are untouched.

What compiles (anything else runs the general engine): a query whose root fields are `tasks`
(aliases allowed) and `__typename`; under a connection `totalCount`, `pageInfo { hasNextPage
endCursor }`, `edges { cursor node }`; under a node the Task fields of `TASK_COLUMNS`, `tags {
id name }`, `reminders { id remindAt beforeDue channels state sentAt }` and the fields of
`RELATED_COLUMNS` of `project` (with the reader's `myRole`), `assignee` and `recurrence`;
`__typename` anywhere; fragments and inline fragments on the selected type, without
directives (the web app's task list, `Tasks`, and the benchmark's page compile). At run time
a filter with `text` (search) goes to the general engine, and so does a `projectId` the
reader is not a member of (checked in the statement itself: it answers NULL then, and the
general engine answers NOT_FOUND as the resolver does).
"""

from __future__ import annotations

import enum
import itertools
import re
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import datetime
from typing import Any, TypeVar

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
)
from graphql.execution.values import get_argument_values
from sqlalchemy import (
    ColumnElement,
    Dialect,
    Integer,
    Select,
    Text,
    and_,
    case,
    cast,
    column,
    func,
    literal_column,
    null,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import LRUCache
from strawberry.types.arguments import convert_arguments

from gateway_core.persistence import reads
from gateway_core.persistence import tables as t
from graphql_schema.documents import frozen_variables
from graphql_schema.guards import check_storable
from graphql_schema.tasks.queries import page_arguments
from taskstream.errors import TaskstreamError
from taskstream.persistence.cursors import ordering_fingerprint

# Set on an HTTP request's scope by the view for a registered document whose answer it can
# send as bytes (gateway/graphql_app.py): only then may execution answer a RawJSON.
COMPILED_READS = "taskstream.compiled_reads"
# Compiled operations kept per schema (the manifest holds ~100 documents; a bound all the same).
PLANS_MAX = 256
# Statements kept per schema by (operation, arguments): a few KB of SQL each.
READS_MAX = 1024


class RawJSON:
    """A response's `data` as the JSON text PostgreSQL built; the HTTP view splices it in.

    Deliberately not a dict: anything that would encode it as one fails loudly instead of
    answering `{}`.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class NotCompiled(Exception):
    """The operation uses something the compiler does not understand (general engine)."""


# Task fields read straight from a column, and how each is written in JSON.
# PLAIN: the column's own JSON (text, integers, booleans).
TIME, PLAIN, ID, ENUM = "time", "plain", "id", "enum"
TASK_COLUMNS: dict[str, tuple[str, str]] = {
    "id": ("id", ID),
    "title": ("title", PLAIN),
    "notes": ("notes", PLAIN),
    "status": ("status", ENUM),
    "priority": ("priority", ENUM),
    "dueAt": ("due_at", TIME),
    "completedAt": ("completed_at", TIME),
    "seriesId": ("series_id", ID),
    "createdAt": ("created_at", TIME),
    "updatedAt": ("updated_at", TIME),
    "version": ("version", PLAIN),
    "position": ("position", PLAIN),
}
TAG_COLUMNS: dict[str, tuple[str, str]] = {"id": ("id", ID), "name": ("name", PLAIN)}
REMINDER_COLUMNS: dict[str, tuple[str, str]] = {
    "id": ("id", ID),
    "remindAt": ("remind_at", TIME),
    "beforeDue": ("before_due", PLAIN),
    "channels": ("channels", ENUM),
    "state": ("state", ENUM),
    "sentAt": ("sent_at", TIME),
}
# A task's lists of objects of leaves: their type and columns (subtasks: their own leaves).
CHILDREN: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "tags": ("Tag", TAG_COLUMNS),
    "reminders": ("Reminder", REMINDER_COLUMNS),
    "subtasks": ("Task", TASK_COLUMNS),
}
# A task's objects of one row each (null when there is none), by field: their columns.
RELATED_COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "project": {
        "id": ("id", ID),
        "name": ("name", PLAIN),
        "color": ("color", PLAIN),
        "archived": ("archived", PLAIN),
        "version": ("version", PLAIN),
        "createdAt": ("created_at", TIME),
        "myRole": ("my_role", ENUM),
    },
    "assignee": {"id": ("id", ID), "email": ("email", PLAIN)},
    "recurrence": {"rule": ("rule", PLAIN), "timezone": ("timezone", PLAIN)},
    "section": {"id": ("id", ID), "name": ("name", PLAIN), "position": ("position", PLAIN)},
}
# Cursor key kinds whose JSON text SQL writes exactly as `encode_cursor` does (json.dumps of
# ASCII-only text); text keys would need json.dumps' \\u escapes of non-ASCII characters.
CURSOR_KINDS = frozenset({"time", "smallint", "uuid", "text"})


# --- plans: what a document selects, checked once per operation ---------------------------


@dataclass(frozen=True, slots=True)
class Leaf:
    """A column written as its JSON (`how`: TIME, PLAIN, ID or ENUM)."""

    key: str
    column: str
    how: str
    enum_names: tuple[tuple[Any, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Const:
    """A constant string (`__typename`)."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class Children:
    """A task's tags or reminders: a list of objects of leaves, in their stored order."""

    key: str
    relation: str  # "tags", "reminders" or "subtasks"
    fields: tuple[Leaf | Const, ...]


@dataclass(frozen=True, slots=True)
class Related:
    """A task's project, assignee or recurrence: an object of leaves, or null."""

    key: str
    relation: str  # a key of RELATED_COLUMNS
    fields: tuple[Leaf | Const, ...]


@dataclass(frozen=True, slots=True)
class Marker:
    """A connection-level value computed from the page (`what`: totalCount, hasNextPage,
    endCursor, cursor)."""

    key: str
    what: str


@dataclass(frozen=True, slots=True)
class Nested:
    """An object whose fields are themselves planned (pageInfo, edges, node)."""

    key: str
    what: str  # "pageInfo", "edges" or "node"
    fields: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class TasksField:
    """One root `tasks` field: its node (for arguments and error locations) and selection."""

    key: str
    node: FieldNode
    fields: tuple[Any, ...]
    selects_cursor: bool


@dataclass(frozen=True, slots=True)
class PagePlan:
    """A compiled operation: its root fields in response order."""

    fields: tuple[TasksField | Const, ...]


class _Compiler:
    """Walks one operation's selections against the schema; NotCompiled on anything else."""

    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode]):
        self.schema = schema
        self.fragments = fragments

    def fields(self, selection_set: SelectionSetNode | None, type_name: str) -> list[FieldNode]:
        """The selection's fields with fragments on `type_name` flattened, in order; one
        field per response key (a repeated leaf is merged, anything else refused)."""
        if selection_set is None:
            raise NotCompiled("a selection set is missing")
        collected: dict[str, FieldNode] = {}
        self._collect(selection_set, type_name, collected, depth=0)
        return list(collected.values())

    def _collect(
        self,
        selection_set: SelectionSetNode,
        type_name: str,
        into: dict[str, FieldNode],
        depth: int,
    ) -> None:
        if depth > 8:
            raise NotCompiled("fragments nested too deep")
        for selection in selection_set.selections:
            if selection.directives:
                raise NotCompiled("a directive")
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                if key.startswith("__") and key != "__typename":
                    # Reserved names; the template's holes are spelled that way too.
                    raise NotCompiled(f"{key}: a reserved response name")
                seen = into.get(key)
                if seen is None:
                    into[key] = selection
                elif (
                    seen.name.value != selection.name.value
                    or seen.selection_set is not None
                    or selection.selection_set is not None
                    or seen.arguments
                    or selection.arguments
                ):
                    raise NotCompiled(f"{key}: selected twice with sub-selections or arguments")
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is not None and condition.name.value != type_name:
                    raise NotCompiled("an inline fragment on another type")
                self._collect(selection.selection_set, type_name, into, depth + 1)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is None or fragment.type_condition.name.value != type_name:
                    raise NotCompiled("a fragment on another type")
                if fragment.directives or fragment.variable_definitions:
                    raise NotCompiled("a fragment with directives or variables")
                self._collect(fragment.selection_set, type_name, into, depth + 1)
            else:  # pragma: no cover - the AST has no other selections
                raise NotCompiled("an unknown selection")

    def enum_names(self, type_name: str, field_name: str) -> tuple[tuple[Any, str], ...]:
        """(stored value, GraphQL name) of each member of a field's enum type."""
        parent = self.schema.type_map[type_name]
        if not isinstance(parent, GraphQLObjectType):
            raise NotCompiled(f"{type_name} is not an object type")
        named = get_named_type(parent.fields[field_name].type)
        if not isinstance(named, GraphQLEnumType):
            raise NotCompiled(f"{type_name}.{field_name} is not an enum")
        names = []
        for name, value in named.values.items():
            member = value.value
            names.append((member.value if isinstance(member, enum.Enum) else member, name))
        return tuple(names)

    def leaves(
        self,
        nodes: list[FieldNode],
        type_name: str,
        columns: dict[str, tuple[str, str]],
    ) -> list[Leaf | Const]:
        """The leaves of an object whose every field is a column (or __typename)."""
        planned: list[Leaf | Const] = []
        for node in nodes:
            key, name = _key(node), node.name.value
            if name == "__typename":
                planned.append(Const(key, type_name))
                continue
            if name not in columns or node.arguments or node.selection_set is not None:
                raise NotCompiled(f"{type_name}.{name}")
            column, how = columns[name]
            names = self.enum_names(type_name, name) if how == ENUM else ()
            planned.append(Leaf(key, column, how, names))
        return planned

    def task(self, nodes: list[FieldNode]) -> tuple[Any, ...]:
        """A Task's planned fields."""
        planned: list[Any] = []
        for node in nodes:
            name = node.name.value
            if name in CHILDREN:
                if node.arguments:
                    raise NotCompiled(f"Task.{name} with arguments")
                type_name, columns = CHILDREN[name]
                leaves = self.leaves(self.fields(node.selection_set, type_name), type_name, columns)
                planned.append(Children(_key(node), name, tuple(leaves)))
            elif name in RELATED_COLUMNS:
                if node.arguments:
                    raise NotCompiled(f"Task.{name} with arguments")
                task_type = self.schema.type_map["Task"]
                if not isinstance(task_type, GraphQLObjectType):
                    raise NotCompiled("Task is not an object type")
                type_name = get_named_type(task_type.fields[name].type).name
                fields = self.fields(node.selection_set, type_name)
                leaves = self.leaves(fields, type_name, RELATED_COLUMNS[name])
                planned.append(Related(_key(node), name, tuple(leaves)))
            else:
                planned.extend(self.leaves([node], "Task", TASK_COLUMNS))
        for leaf in planned:
            # Channels are an array: written whole, so their names must be the stored values.
            for child in leaf.fields if isinstance(leaf, Children) else ():
                if (
                    isinstance(child, Leaf)
                    and child.column == "channels"
                    and any(str(stored) != name for stored, name in child.enum_names)
                ):
                    raise NotCompiled("channel names differ from their stored values")
        return tuple(planned)

    def connection(self, node: FieldNode) -> TasksField:
        """A root `tasks` field's plan."""
        planned: list[Any] = []
        selects_cursor = False
        for field in self.fields(node.selection_set, "TaskConnection"):
            key, name = _key(field), field.name.value
            if field.arguments:
                raise NotCompiled(f"TaskConnection.{name} with arguments")
            if name == "__typename":
                planned.append(Const(key, "TaskConnection"))
            elif name == "totalCount":
                planned.append(Marker(key, "totalCount"))
            elif name == "pageInfo":
                info: list[Any] = []
                for sub in self.fields(field.selection_set, "PageInfo"):
                    sub_name = sub.name.value
                    if sub_name == "__typename":
                        info.append(Const(_key(sub), "PageInfo"))
                    elif sub_name in ("hasNextPage", "endCursor") and not sub.arguments:
                        info.append(Marker(_key(sub), sub_name))
                        selects_cursor |= sub_name == "endCursor"
                    else:
                        raise NotCompiled(f"PageInfo.{sub_name}")
                planned.append(Nested(key, "pageInfo", tuple(info)))
            elif name == "edges":
                edge: list[Any] = []
                for sub in self.fields(field.selection_set, "TaskEdge"):
                    sub_name = sub.name.value
                    if sub.arguments:
                        raise NotCompiled(f"TaskEdge.{sub_name} with arguments")
                    if sub_name == "__typename":
                        edge.append(Const(_key(sub), "TaskEdge"))
                    elif sub_name == "cursor":
                        edge.append(Marker(_key(sub), "cursor"))
                        selects_cursor = True
                    elif sub_name == "node":
                        task = self.task(self.fields(sub.selection_set, "Task"))
                        edge.append(Nested(_key(sub), "node", task))
                    else:
                        raise NotCompiled(f"TaskEdge.{sub_name}")
                planned.append(Nested(key, "edges", tuple(edge)))
            else:
                raise NotCompiled(f"TaskConnection.{name}")
        return TasksField(_key(node), node, tuple(planned), selects_cursor)

    def operation(self, operation: OperationDefinitionNode) -> PagePlan:
        """The plan of a query of `tasks` fields."""
        if operation.operation is not OperationType.QUERY or operation.directives:
            raise NotCompiled("not a query, or a directive on it")
        for definition in operation.variable_definitions or ():
            if definition.directives:
                raise NotCompiled("a directive on a variable")
        roots: list[TasksField | Const] = []
        for node in self.fields(operation.selection_set, "Query"):
            name = node.name.value
            if name == "__typename":
                roots.append(Const(_key(node), "Query"))
            elif name == "tasks":
                roots.append(self.connection(node))
            else:
                raise NotCompiled(f"Query.{name}")
        if not any(isinstance(root, TasksField) for root in roots):
            raise NotCompiled("no tasks field")
        return PagePlan(tuple(roots))


def _key(node: FieldNode) -> str:
    return node.alias.value if node.alias else node.name.value


def compile_operation(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
) -> PagePlan | None:
    """The plan of an operation the compiler fully understands, else None."""
    try:
        return _Compiler(schema, fragments).operation(operation)
    except NotCompiled:
        return None


_Kept = TypeVar("_Kept")


class CompiledPlans:
    """Plans by operation (a bounded LRU per schema; None remembered for refused ones)."""

    def __init__(self, size: int = PLANS_MAX) -> None:
        self.size = size
        # id(operation) -> (the operation, kept alive so that its id is not reused; its plan)
        self._plans: OrderedDict[int, tuple[OperationDefinitionNode, PagePlan | None]] = (
            OrderedDict()
        )
        # (id(plan), shape) -> (the plan, kept alive likewise; its SQL template or None)
        self._templates: OrderedDict[tuple[int, Hashable], tuple[PagePlan, str | None]] = (
            OrderedDict()
        )
        # (id(plan), the requests' arguments, dialect) -> (the plan, kept alive likewise; the
        # statement made for `_ANY_READER`, see `compiled_read`; None is never kept)
        self._reads: OrderedDict[
            tuple[int, Hashable, str], tuple[PagePlan, CompiledRead | None]
        ] = OrderedDict()
        # (id(plan), the variables) -> (the plan, kept alive likewise; the root fields'
        # arguments as the resolver reads them, or None: the general engine)
        self._requests: OrderedDict[
            tuple[int, Hashable], tuple[PagePlan, dict[str, PageRequest] | None]
        ] = OrderedDict()
        # Requests answered by a kept statement made for another reader (seen by the tests).
        self.reads_reused = 0

    def plan(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: dict[str, FragmentDefinitionNode],
    ) -> PagePlan | None:
        """The operation's plan, compiled on first use."""
        key = id(operation)
        cached = self._plans.get(key)
        if cached is not None and cached[0] is operation:
            self._plans.move_to_end(key)
            return cached[1]
        plan = compile_operation(schema, operation, fragments)
        self._plans[key] = (operation, plan)
        if len(self._plans) > self.size:
            self._plans.popitem(last=False)
        return plan

    def template(
        self, plan: PagePlan, shape: Hashable, build: Callable[[], str | None]
    ) -> str | None:
        """The plan's SQL template for pages of this shape (orderings), built on first use."""
        return _kept(self._templates, (id(plan), shape), plan, build, self.size)[1]

    def read(
        self,
        plan: PagePlan,
        arguments: Hashable,
        dialect: Dialect,
        build: Callable[[], CompiledRead | None],
    ) -> CompiledRead | None:
        """The plan's statement for these arguments and any reader (made by `build` on first
        use; None, the general engine, is not kept: it is the unusual case)."""
        key = (id(plan), arguments, dialect.name)
        hit, read = _kept(self._reads, key, plan, build, READS_MAX, keep_none=False)
        self.reads_reused += hit
        return read

    def requests(
        self,
        plan: PagePlan,
        variables: Any,
        build: Callable[[], dict[str, PageRequest] | None],
    ) -> dict[str, PageRequest] | None:
        """The plan's root arguments for these variable values (the document fixes the rest),
        converted by `build` on first use: Strawberry's conversion of a filter is most of a
        compiled request's Python."""
        # graphql-core's VariableValues: the coerced values are what the arguments are read
        # from (a variable neither given nor defaulted is absent from them).
        frozen = frozen_variables(getattr(variables, "coerced", variables) or {})
        if frozen is None:
            return build()
        return _kept(self._requests, (id(plan), frozen), plan, build, READS_MAX)[1]


def _kept(
    store: OrderedDict[Any, tuple[PagePlan, _Kept | None]],
    key: Hashable,
    plan: PagePlan,
    build: Callable[[], _Kept | None],
    size: int,
    *,
    keep_none: bool = True,
) -> tuple[bool, _Kept | None]:
    """(whether it was kept, the value) of `key` in an LRU `store` of at most `size` entries,
    built on first use. Each entry holds its plan alive, so that `id(plan)` in a key is never
    another plan's."""
    cached = store.get(key)
    if cached is not None and cached[0] is plan:
        store.move_to_end(key)
        return True, cached[1]
    value = build()
    if value is not None or keep_none:
        store[key] = (plan, value)
        if len(store) > size:
            store.popitem(last=False)
    return False, value


def plans_of(schema: GraphQLSchema) -> CompiledPlans:
    """The compiled plans of one schema (kept on it: plans never cross schemas)."""
    plans: CompiledPlans | None = getattr(schema, "_taskstream_compiled_plans", None)
    if plans is None:
        plans = CompiledPlans()
        schema._taskstream_compiled_plans = plans  # type: ignore[attr-defined]
    return plans


# --- statements: a plan and a request's arguments to SQL -----------------------------------


def _sql_string(text: str) -> ColumnElement[Any]:
    """A constant SQL string (keys and enum names: GraphQL names, quoted all the same)."""
    return literal_column("'" + text.replace("'", "''") + "'", Text)


def rfc3339(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A timestamptz as the DateTime scalar writes it: UTC, `+00:00`, microseconds only when
    not zero (Python's isoformat); NULL stays NULL."""
    utc = func.timezone(_sql_string("UTC"), column)
    micro = func.to_char(utc, _sql_string("US"), type_=Text)
    whole = func.to_char(utc, _sql_string('YYYY-MM-DD"T"HH24:MI:SS'), type_=Text)
    fraction = case(
        (micro == _sql_string("000000"), _sql_string("")), else_=_sql_string(".").concat(micro)
    )
    return whole.concat(fraction).concat(_sql_string("+00:00"))


def _leaf(leaf: Leaf, columns: Any) -> ColumnElement[Any]:
    column: ColumnElement[Any] = columns[leaf.column]
    if leaf.how == TIME:
        return rfc3339(column)
    if leaf.how == ID:
        return cast(column, Text)
    if leaf.how == ENUM:
        if all(str(stored) == name for stored, name in leaf.enum_names):
            return func.to_json(column) if leaf.column == "channels" else column
        stored_type = Integer if isinstance(leaf.enum_names[0][0], int) else Text
        whens = [
            (column == literal_column(str(int(stored)), stored_type), _sql_string(name))
            if stored_type is Integer
            else (column == _sql_string(str(stored)), _sql_string(name))
            for stored, name in leaf.enum_names
        ]
        return case(*whens)
    return column


def _object(pairs: Sequence[tuple[str, ColumnElement[Any]]]) -> ColumnElement[Any]:
    arguments: list[ColumnElement[Any]] = []
    for key, value in pairs:
        arguments += [_sql_string(key), value]
    return func.json_build_object(*arguments)


def _leaves(fields: Sequence[Leaf | Const], columns: Any) -> ColumnElement[Any]:
    return _object(
        [
            (f.key, _sql_string(f.value) if isinstance(f, Const) else _leaf(f, columns))
            for f in fields
        ]
    )


def _empty_list() -> ColumnElement[Any]:
    return literal_column("'[]'::json")


def _children(children: Children, task_id: ColumnElement[Any]) -> ColumnElement[Any]:
    """A task's tags or reminders as a JSON list, in the order `reads` loads them."""
    if children.relation == "tags":
        links, tags = t.task_tags.alias(), t.tags.alias()
        aggregated = func.json_agg(
            aggregate_order_by(_leaves(children.fields, tags.c), links.c.position)
        )
        statement = (
            select(func.coalesce(aggregated, _empty_list()))
            .select_from(links.join(tags, tags.c.id == links.c.tag_id))
            .where(links.c.task_id == task_id)
        )
    elif children.relation == "subtasks":
        # As subtasks_of: every direct subtask (whoever sees a task sees its subtasks).
        subtasks = t.tasks.alias()
        aggregated = func.json_agg(
            aggregate_order_by(
                _leaves(children.fields, subtasks.c), subtasks.c.position, subtasks.c.id
            )
        )
        statement = select(func.coalesce(aggregated, _empty_list())).where(
            subtasks.c.parent_id == task_id
        )
    else:
        reminders = t.reminders.alias()
        aggregated = func.json_agg(
            aggregate_order_by(_leaves(children.fields, reminders.c), reminders.c.position)
        )
        statement = select(func.coalesce(aggregated, _empty_list())).where(
            reminders.c.task_id == task_id
        )
    return statement.scalar_subquery()


# The reader's id in a template, replaced by a bound value (the reader's) in each statement.
VIEWER = "__TASKSTREAM_VIEWER__"
VIEWER_TEXT = f"'{VIEWER}'"


# Related rows read by the id a task column holds: their table and that column.
BY_ID = {"assignee": (t.users, "assignee_id"), "section": (t.sections, "section_id")}


def _related(related: Related, rows: Any, name: str) -> ColumnElement[Any]:
    """A task's project (as its reader sees it, with their role), assignee, section or
    recurrence as a JSON object, or NULL, as the loaders and `Task.of` give them.

    `rows` is the page (a CTE). Projects, assignees and sections are read once per page, each
    distinct row of the page's ids made into its JSON in a materialized CTE, and each task
    looks its own up there: a page's tasks mostly share a few of them, and a lookup per task
    in the tables themselves (which the planner does by scanning a small table) cost more
    than the rest of the page's related rows together.
    """
    if related.relation == "project":
        projects, mine = t.projects.alias(), t.project_members.alias()
        columns = {**{c.key: c for c in projects.c}, "my_role": mine.c.role}
        member = and_(
            mine.c.project_id == projects.c.id,
            mine.c.user_id == literal_column(f"{VIEWER_TEXT}::uuid"),
        )
        table, task_column = projects, "project_id"
        found = select(projects.c.id, _leaves(related.fields, columns).label("object")).select_from(
            projects.join(mine, member)
        )
    elif related.relation in BY_ID:
        # As users_by_id and sections_by_id: the row of the task's id, whoever asks.
        source, task_column = BY_ID[related.relation]
        table = source.alias()
        found = select(table.c.id, _leaves(related.fields, table.c).label("object"))
    else:
        stored = {
            name: rows.c.recurrence.op("->>")(_sql_string(name)) for name in ("rule", "timezone")
        }
        return case((rows.c.recurrence.is_(None), null()), else_=_leaves(related.fields, stored))
    # `name`: the CTE's own (aliases of one relation select different fields).
    of_page = (
        found.where(table.c.id.in_(select(rows.c[task_column])))
        .cte(name)
        .prefix_with("MATERIALIZED")
    )
    return select(of_page.c.object).where(of_page.c.id == rows.c[task_column]).scalar_subquery()


# json.dumps' escapes of characters it names by letter.
JSON_LETTERS = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


def json_ascii(value: ColumnElement[Any]) -> ColumnElement[Any]:
    """A text as Python's json.dumps writes it (ensure_ascii): the characters of
    JSON_LETTERS escaped by letter, every other one outside space..tilde as a \\u escape in
    lowercase hex (a surrogate pair above U+FFFF)."""
    chars = (
        func.regexp_split_to_table(value, _sql_string(""))
        .table_valued("ch", with_ordinality="n")
        .render_derived(name="chars")
    )
    code = func.ascii(chars.c.ch)
    whens: list[tuple[ColumnElement[bool], ColumnElement[Any]]] = [
        (code == literal_column(str(ord(letter)), Integer), _sql_string(escaped))
        for letter, escaped in JSON_LETTERS.items()
    ]
    above = code - literal_column("65536", Integer)
    high = literal_column("55296", Integer) + above.op(">>")(literal_column("10", Integer))
    low = literal_column("56320", Integer) + above.op("&")(literal_column("1023", Integer))
    unicode = _sql_string("\\u")
    whens += [
        (
            code > literal_column("65535", Integer),
            unicode.concat(func.to_hex(high)).concat(unicode).concat(func.to_hex(low)),
        ),
        (
            (code < literal_column("32", Integer)) | (code > literal_column("126", Integer)),
            unicode.concat(
                func.lpad(func.to_hex(code), literal_column("4", Integer), _sql_string("0"))
            ),
        ),
    ]
    letters = case(*whens, else_=chars.c.ch)
    joined = func.string_agg(letters, aggregate_order_by(_sql_string(""), chars.c.n))
    body = select(func.coalesce(joined, _sql_string(""))).select_from(chars).scalar_subquery()
    return _sql_string('"').concat(body).concat(_sql_string('"'))


def _cursor(page: reads.PageStatement, columns: Any) -> ColumnElement[Any] | None:
    """A row's cursor as `encode_cursor` writes it (base64url of its JSON, unpadded), or
    None when a key's JSON cannot be written exactly in SQL."""
    parts: list[ColumnElement[Any]] = []
    for index, key in enumerate(page.keys):
        if key.kind not in CURSOR_KINDS:
            return None
        value = columns[f"k{index}"]
        if key.null_as is not None:
            # As `_cursor_value`: the raw column (null when undated), not the stand-in.
            due = columns["due_at"]
            parts.append(
                case(
                    (due.is_(None), _sql_string("null")),
                    else_=_sql_string('"').concat(rfc3339(due)).concat(_sql_string('"')),
                )
            )
        elif key.kind == "time":
            parts.append(_sql_string('"').concat(rfc3339(value)).concat(_sql_string('"')))
        elif key.kind == "text":
            parts.append(json_ascii(value))
        elif key.kind == "uuid":
            parts.append(_sql_string('"').concat(cast(value, Text)).concat(_sql_string('"')))
        else:
            parts.append(cast(value, Text))
    text: ColumnElement[Any] = _sql_string(
        '{"o":"' + ordering_fingerprint(page.signature) + '","v":['
    )
    for index, part in enumerate(parts):
        text = text.concat(_sql_string(",")).concat(part) if index else text.concat(part)
    text = text.concat(_sql_string("]}"))
    encoded = func.encode(func.convert_to(text, _sql_string("UTF8")), _sql_string("base64"))
    # Standard base64 with line breaks → URL-safe, unbroken and unpadded.
    return func.rtrim(
        func.translate(encoded, literal_column("E'+/\\n'"), _sql_string("-_")), _sql_string("=")
    )


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A root `tasks` field's arguments, as the resolver would read them."""

    query: reads.TaskQuery
    order: list[tuple[reads.SortField, bool]] | None
    first: int
    after: str | None


def _tasks_json(
    field: TasksField, page: reads.PageStatement, index: int
) -> ColumnElement[Any] | None:
    """A root `tasks` field's JSON as a scalar subquery over holes for the request's page
    statement, count statement and page size (None: run the general engine)."""
    columns = [column(str(c.key), c.type) for c in page.statement.selected_columns]
    inner = text(_hole("PAGE", index)).columns(*columns).subquery(f"p{index}_rows")
    keys = [inner.c[f"k{i}"] for i in range(len(page.keys))]
    ordering = [c.desc() if k.descending else c.asc() for c, k in zip(keys, page.keys, strict=True)]
    rows = select(inner, func.row_number().over(order_by=ordering).label("rn")).cte(f"p{index}")
    cursor = _cursor(page, rows.c) if field.selects_cursor else None
    if field.selects_cursor and cursor is None:
        return None
    first = literal_column(_hole("FIRST", index), Integer)
    related_names = itertools.count()

    def connection_part(part: Any) -> ColumnElement[Any]:
        if isinstance(part, Const):
            return _sql_string(part.value)
        if isinstance(part, Marker) and part.what == "totalCount":
            return literal_column(f"({_hole('COUNT', index)})", Integer)
        if part.what == "pageInfo":
            return _object([(p.key, page_info_part(p)) for p in part.fields])
        return edges(part.fields)

    def page_info_part(part: Any) -> ColumnElement[Any]:
        if isinstance(part, Const):
            return _sql_string(part.value)
        if part.what == "hasNextPage":
            return select(func.count() > first).select_from(rows).scalar_subquery()
        if cursor is None:
            raise RuntimeError("an endCursor planned without its cursor")
        return (
            select(cursor)
            .where(rows.c.rn <= first)
            .order_by(rows.c.rn.desc())
            .limit(literal_column("1", Integer))
            .scalar_subquery()
        )

    def edge_part(part: Any) -> ColumnElement[Any]:
        if isinstance(part, Const):
            return _sql_string(part.value)
        if isinstance(part, Marker):
            if cursor is None:
                raise RuntimeError("a cursor planned without its cursor")
            return cursor
        return _object([(f.key, task_part(f)) for f in part.fields])

    def task_part(part: Any) -> ColumnElement[Any]:
        if isinstance(part, Const):
            return _sql_string(part.value)
        if isinstance(part, Children):
            return _children(part, rows.c.id)
        if isinstance(part, Related):
            return _related(part, rows, f"{rows.name}_related{next(related_names)}")
        return _leaf(part, rows.c)

    def edges(fields: Sequence[Any]) -> ColumnElement[Any]:
        edge = _object([(f.key, edge_part(f)) for f in fields])
        aggregated = func.json_agg(aggregate_order_by(edge, rows.c.rn))
        return (
            select(func.coalesce(aggregated, _empty_list()))
            .where(rows.c.rn <= first)
            .scalar_subquery()
        )

    return _object([(part.key, connection_part(part)) for part in field.fields])


def _hole(what: str, index: int) -> str:
    """Where a request's own SQL goes into a template (never text of a document)."""
    return f"__TASKSTREAM_{what}_{index}__"


def _selects_count(field: TasksField) -> bool:
    return any(isinstance(part, Marker) and part.what == "totalCount" for part in field.fields)


def _template(
    plan: PagePlan, pages: dict[str, reads.PageStatement], dialect: Dialect
) -> str | None:
    """The plan's statement as SQL text with holes for each request's pieces (None: the
    general engine); built and compiled once per plan and ordering, then cached."""
    parts: list[tuple[str, ColumnElement[Any]]] = []
    for index, root in enumerate(plan.fields):
        if isinstance(root, Const):
            parts.append((root.key, _sql_string(root.value)))
            continue
        value = _tasks_json(root, pages[root.key], index)
        if value is None:
            return None
        parts.append((root.key, value))
    compiled = select(cast(_object(parts), Text)).compile(dialect=dialect)
    if compiled.params:
        raise RuntimeError(f"a compiled page's template has parameters: {compiled.params}")
    return compiled.string


# Compiled SQL of the reads' page and count statements, by their structure (SQLAlchemy's own
# cache, as `connection.execute` keeps one per engine).
_COMPILED: LRUCache[Any, Any] = LRUCache(512)
_PARAMETER = re.compile(r"\$(\d+)")


def _sql(statement: Select[Any], dialect: Dialect, offset: int) -> tuple[str, list[Any]]:
    """A statement's SQL (its parameters numbered from offset + 1) and parameter values,
    through SQLAlchemy's compiled cache, as `connection.execute` makes them
    (sqlalchemy/engine/default.py, DefaultExecutionContext._init_compiled)."""
    compiled, extracted, collected, _ = statement._compile_w_cache(
        dialect,
        compiled_cache=_COMPILED,
        column_keys=[],
        for_executemany=False,
        schema_translate_map=None,
    )
    if not isinstance(compiled, SQLCompiler) or not compiled.positional:
        raise RuntimeError("compiled reads need a positional SQL dialect (asyncpg)")
    parameters = compiled.construct_params(
        extracted_parameters=extracted, escape_names=False, _collected_params=collected
    )
    processors: dict[str, Any] = dict(compiled._bind_processors)
    sql, order = compiled.string, list(compiled.positiontup or ())
    if compiled.literal_execute_params or compiled.post_compile_params:
        # `IN` lists of a filter: expanded into one parameter per item.
        expanded = compiled._process_parameters_for_postcompile(parameters)
        sql, order = expanded.statement, list(expanded.positiontup or ())
        processors.update(expanded.processors)
    values = []
    for name in order:
        processor = processors.get(name)
        value = parameters[name]
        values.append(processor(value) if processor is not None else value)
    if offset:
        sql = _PARAMETER.sub(lambda match: f"${int(match.group(1)) + offset}", sql)
    return sql, values


@dataclass(frozen=True, slots=True)
class CompiledRead:
    """The SQL of one request's compiled read and its parameter values."""

    sql: str
    parameters: tuple[Any, ...]
    # Projects the reader must be a member of (a `projectId` filter), as the resolver checks:
    # the statement answers NULL for a reader who is not, and the general engine NOT_FOUND.
    projects: tuple[uuid.UUID, ...] = ()


# The reader a statement kept for every reader is made for (random: no input can be it); each
# request puts its own reader in its place (`_for_reader`).
_ANY_READER = uuid.uuid4()


def compiled_read(
    plans: CompiledPlans,
    plan: PagePlan,
    requests: dict[str, PageRequest],
    *,
    user_id: uuid.UUID,
    now: datetime,
    dialect: Dialect,
) -> CompiledRead | None:
    """The one statement answering the plan's `data` as JSON text (None: general engine).

    The page and count statements are the reads' own; the JSON around them is the plan's
    template, compiled once per plan and ordering. Building the reads' statements is most of
    a compiled request's Python, and their SQL depends on the arguments alone (the reader is
    a bound value; `now` too, and only for `overdue`): so the statement is made once per
    (operation, arguments) for `_ANY_READER` and each request binds its own reader.
    """
    arguments = _arguments_key(requests)
    setting = _Setting(plans, now, dialect)

    def own() -> CompiledRead | None:
        read = _made_for(user_id, plan, requests, setting)
        return None if read is None else _for_reader(read, user_id)

    if arguments is None:
        return own()

    def build() -> CompiledRead | None:
        read = _made_for(_ANY_READER, plan, requests, setting)
        # The reader only ever a bound value, never part of the text (checked, not assumed):
        # else this statement is made for each reader.
        if read is None or str(_ANY_READER) in read.sql or not _binds_reader(read):
            return None
        return read

    read = plans.read(plan, arguments, dialect, build)
    return own() if read is None else _for_reader(read, user_id)


def _arguments_key(requests: dict[str, PageRequest]) -> Hashable | None:
    """The requests' arguments as a key, or None when the statement may depend on more (the
    time, for `overdue`) or they are not all values."""
    key = []
    for name, request in requests.items():
        query = request.query
        if query.overdue is not None or query.text is not None:
            return None
        filters = tuple(
            tuple(value) if isinstance(value, list) else value
            for value in (getattr(query, f.name) for f in dataclass_fields(query))
        )
        order = tuple(request.order) if request.order is not None else None
        key.append((name, filters, order, request.first, request.after))
    arguments = tuple(key)
    try:
        hash(arguments)
    except TypeError:
        return None
    return arguments


def _binds_reader(read: CompiledRead) -> bool:
    """Whether `_ANY_READER` is among the statement's values (visibility always binds it)."""
    return any(
        value == _ANY_READER or (isinstance(value, str) and value == str(_ANY_READER))
        for value in read.parameters
    )


def _for_reader(read: CompiledRead, user_id: uuid.UUID) -> CompiledRead:
    """A statement kept for `_ANY_READER` with this reader bound in its place."""
    reader = uuid.UUID(str(user_id))
    parameters = tuple(
        reader
        if value == _ANY_READER
        else str(reader)
        if isinstance(value, str) and value == str(_ANY_READER)
        else value
        for value in read.parameters
    )
    return CompiledRead(read.sql, parameters, read.projects)


@dataclass(frozen=True, slots=True)
class _Setting:
    """What a compiled read is made with besides the plan, its requests and the reader."""

    plans: CompiledPlans
    now: datetime
    dialect: Dialect


def _made_for(
    user_id: uuid.UUID, plan: PagePlan, requests: dict[str, PageRequest], setting: _Setting
) -> CompiledRead | None:
    """`compiled_read` made for one reader (bound as a value wherever it is read)."""
    plans, now, dialect = setting.plans, setting.now, setting.dialect
    pages: dict[str, reads.PageStatement] = {}
    try:
        for root in plan.fields:
            if isinstance(root, TasksField):
                request = requests[root.key]
                pages[root.key] = reads.page_statement(
                    user_id=user_id,
                    query=request.query,
                    order=request.order,
                    first=request.first,
                    after=request.after,
                    now=now,
                    close={},
                )
    except TaskstreamError:
        # A cursor or ordering the reads refuse: the general engine answers the refusal.
        return None
    shape = tuple(
        (key, page.signature, tuple((k.kind, k.null_as, k.descending) for k in page.keys))
        for key, page in pages.items()
    )
    template = plans.template(plan, shape, lambda: _template(plan, pages, dialect))
    if template is None:
        return None
    sql, values = template, list[Any]()
    for index, root in enumerate(plan.fields):
        if not isinstance(root, TasksField):
            continue
        request = requests[root.key]
        page_sql, page_values = _sql(pages[root.key].statement, dialect, len(values))
        values += page_values
        sql = sql.replace(_hole("PAGE", index), page_sql)
        sql = sql.replace(_hole("FIRST", index), str(int(request.first)))
        if _selects_count(root):
            count = reads.count_statement(user_id=user_id, query=request.query, now=now, close={})
            count_sql, count_values = _sql(count, dialect, len(values))
            values += count_values
            sql = sql.replace(_hole("COUNT", index), count_sql)
    if VIEWER_TEXT in sql:
        # The reader's role (`myRole`) by a bound value: one text for every reader, prepared
        # once per connection.
        values.append(user_id)
        sql = sql.replace(VIEWER_TEXT, f"${len(values)}")
    projects = tuple(
        dict.fromkeys(
            project
            for request in requests.values()
            if (project := request.query.project_id) is not None
        )
    )
    if projects:
        # The resolver's own check, in the same statement: a reader who is not a member of
        # every `projectId` gets NULL, and the general engine answers NOT_FOUND.
        values += [user_id, list(projects)]
        # Only a table's name and numbers are interpolated, never a value (S608/B608).
        sql = (
            f"SELECT CASE WHEN (SELECT count(*) FROM {t.project_members.fullname} "  # noqa: S608  # nosec B608
            f"WHERE user_id = ${len(values) - 1}::uuid "
            f"AND project_id = ANY(${len(values)}::uuid[])) = {len(projects)} "
            f"THEN ({sql}) END"
        )
    return CompiledRead(sql, tuple(values), projects)


def page_request(
    field: TasksField,
    field_definition: Any,
    variable_values: Any,
    convert: Callable[[dict[str, Any], list[Any]], dict[str, Any]],
) -> PageRequest | None:
    """A `tasks` field's arguments as the resolver reads them, or None when anything about
    them is unusual (the general engine then answers, refusals included)."""
    try:
        raw = get_argument_values(field_definition, field.node, variable_values)
        # The root guard's check (graphql_schema/guards.py), before anything reads them.
        check_storable(raw)
        strawberry_field = field_definition.extensions["strawberry-definition"]
        arguments = convert(raw, strawberry_field.arguments)
        query, order, first = page_arguments(
            arguments.get("filter"), arguments.get("order_by"), arguments.get("first")
        )
    except (TaskstreamError, ValueError, TypeError, KeyError):
        return None
    if query.text is not None:
        return None  # a search reads its close words and settings first: the general engine
    if not 1 <= first <= reads.PAGE_MAX:
        return None
    after = arguments.get("after")
    return PageRequest(query, order, first, after if isinstance(after, str) else None)


def converter(strawberry_schema: Any) -> Callable[[dict[str, Any], list[Any]], dict[str, Any]]:
    """Strawberry's argument conversion, as its resolver wrapper calls it."""

    def convert(raw: dict[str, Any], arguments: list[Any]) -> dict[str, Any]:
        return convert_arguments(
            raw,
            arguments,
            scalar_registry=strawberry_schema.schema_converter.scalar_registry,
            config=strawberry_schema.config,
        )

    return convert
