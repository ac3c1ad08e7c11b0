"""The API reference (docs/api/reference.md), generated from the exported GraphQL schema.

`taskstream schema` writes it beside the SDL; `python -m graphql_schema.reference [--check]`
does only this. The text depends on nothing but `graphql_schema/schema.graphql`, in a fixed
order (root operations as declared, then every named type by kind and name), so an unchanged
schema always gives the same bytes and a test can tell a stale reference.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    Undefined,
    ast_from_value,
    build_schema,
    get_named_type,
    print_ast,
)

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_SDL = ROOT / "graphql_schema" / "schema.graphql"
REFERENCE = ROOT / "docs" / "api" / "reference.md"
BUILT_IN = frozenset({"String", "Int", "Float", "Boolean", "ID"})
OPERATIONS = (("Query", "query", "Queries"), ("Mutation", "mutation", "Mutations"))
SUBSCRIPTION = ("Subscription", "subscription", "Subscriptions")
KINDS: tuple[tuple[str, type[GraphQLNamedType]], ...] = (
    ("Objects", GraphQLObjectType),
    ("Interfaces", GraphQLInterfaceType),
    ("Unions", GraphQLUnionType),
    ("Input objects", GraphQLInputObjectType),
    ("Enums", GraphQLEnumType),
    ("Scalars", GraphQLScalarType),
)
BUILT_IN_SCALARS = "`String`, `Int` (32-bit), `Float`, `Boolean` and `ID` (an opaque string)"

HEADER = """# API reference

<!-- Generated from graphql_schema/schema.graphql by `taskstream schema`
     (or `python -m graphql_schema.reference`); do not edit by hand. -->

The GraphQL API at `/graphql`: HTTP `POST` with `{{"query", "variables"}}` (queries also
over `GET`, and by persisted-query hash:
[examples.md](examples.md#7-get-persisted-queries-and-trusted-documents)), and WebSocket
(`graphql-transport-ws`) or Server-Sent Events (`graphql-sse`) for subscriptions. Every
operation but `signUp` and `logIn` needs
`Authorization: Bearer <token>` (on a WebSocket: the `connection_init` payload
`{{"authorization": "Bearer <token>"}}`). Errors carry `extensions.code`: `UNAUTHENTICATED`,
`NOT_FOUND`, `BAD_USER_INPUT`, `CONFLICT`, `RATE_LIMITED`, `COST_LIMIT`, `TIMEOUT` (the request
passed its deadline or a statement its timeout; nothing was changed), `PERSISTED_QUERY_NOT_FOUND`
(a persisted-query hash not stored: send the text with it), `FORBIDDEN` (a document the
trusted-documents policy does not allow), `UNAVAILABLE` (the database cannot serve now: retry
after `extensions.retryAfter` seconds) or `INTERNAL`; every code in
[errors.md](../errors.md). Each
operation is priced before it runs (objects times list sizes, with recurrence expansion, search,
chain verification and password hashing priced by their arguments); above the budget
(`TASKSTREAM_GRAPHQL_MAX_COST`) it is refused with `COST_LIMIT` and a message giving the cost
and the budget, and an accepted query or mutation reports `extensions.cost`
(`{{"requested": N, "budget": B}}`). A mutation sent over HTTP with an `Idempotency-Key`
header (1 to 255 visible ASCII characters, one per user action) runs once per account and key:
a retry with the same key and request, on any gateway replica within 24 hours, is answered the
first response (with `Idempotent-Replayed: true`) and changes nothing; the same key with another
request is `CONFLICT`. Worked examples of each use case are in
[examples.md](examples.md); the rules the schema cannot say are in the contract (CONTRACT.md).

Built-in scalars: {built_in}.
"""


def anchor(prefix: str, name: str) -> str:
    """A stable fragment id, e.g. `type-task` or `mutation-createtask`."""
    return f"{prefix}-{name.lower()}"


def cell(text: str | None) -> str:
    """Text fit for one Markdown table cell."""
    return (text or "").strip().replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def type_ref(type_: GraphQLInputType | GraphQLOutputType) -> str:
    """The type as written in SDL, linked to its section unless built in."""
    named = get_named_type(type_)
    if named.name in BUILT_IN:
        return f"`{type_}`"
    return f"[`{type_}`](#{anchor('type', named.name)})"


def default_of(argument: GraphQLArgument | GraphQLInputField) -> str:
    """The default value as a GraphQL literal, or empty when there is none."""
    # A schema built from SDL keeps defaults as written (graphql-core 3.3); a coded one as values.
    written = argument.ast_node.default_value if argument.ast_node is not None else None
    if written is not None:
        return f"`{print_ast(written)}`"
    if argument.default_value is Undefined:
        return ""
    literal = ast_from_value(argument.default_value, argument.type)
    return "" if literal is None else f"`{print_ast(literal)}`"


def deprecation(reason: str | None) -> str:
    """A note for a deprecated element (graphql-core gives a reason when it is deprecated)."""
    return "" if reason is None else f" **Deprecated:** {cell(reason)}"


def arguments_table(arguments: dict[str, GraphQLArgument]) -> list[str]:
    """The arguments of one field as a table."""
    if not arguments:
        return ["No arguments.", ""]
    lines = ["| argument | type | default | description |", "|---|---|---|---|"]
    for name, argument in arguments.items():
        lines.append(
            f"| `{name}` | {type_ref(argument.type)} | {default_of(argument)} | "
            f"{cell(argument.description)}{deprecation(argument.deprecation_reason)} |"
        )
    return [*lines, ""]


def signature(name: str, field: GraphQLField) -> str:
    """One field as SDL, its arguments on one line."""
    if not field.args:
        return f"{name}: {field.type}"
    parts = []
    for arg_name, argument in field.args.items():
        default = default_of(argument).strip("`")
        parts.append(f"{arg_name}: {argument.type}" + (f" = {default}" if default else ""))
    return f"{name}({', '.join(parts)}): {field.type}"


def operation_sections(root: GraphQLObjectType | None, prefix: str, title: str) -> list[str]:
    """One section per root field (query, mutation or subscription)."""
    if root is None:
        return []
    lines = [f"## {title}", ""]
    if root.description:
        lines += [root.description.strip(), ""]
    for name, field in root.fields.items():
        lines += [
            f'<a id="{anchor(prefix, name)}"></a>',
            "",
            f"### `{name}`",
            "",
            "```graphql",
            signature(name, field),
            "```",
            "",
        ]
        if field.description:
            lines += [field.description.strip() + deprecation(field.deprecation_reason), ""]
        lines += [f"Returns {type_ref(field.type)}.", ""]
        lines += arguments_table(field.args)
    return lines


def field_rows(fields: dict[str, GraphQLField]) -> list[str]:
    """The fields of an object or interface as a table; arguments listed in their row."""
    lines = ["| field | type | description |", "|---|---|---|"]
    for name, field in fields.items():
        text = cell(field.description) + deprecation(field.deprecation_reason)
        for arg_name, argument in field.args.items():
            default = default_of(argument)
            text += (
                f"<br>Argument `{arg_name}`: {type_ref(argument.type)}"
                + (f" = {default}" if default else "")
                + f". {cell(argument.description)}"
            )
        lines.append(f"| `{name}` | {type_ref(field.type)} | {text} |")
    return [*lines, ""]


def type_section(schema: GraphQLSchema, named: GraphQLNamedType) -> list[str]:
    """The section of one named type."""
    lines = [f'<a id="{anchor("type", named.name)}"></a>', "", f"### `{named.name}`", ""]
    if named.description:
        lines += [named.description.strip(), ""]
    if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
        if named.interfaces:
            lines += ["Implements " + ", ".join(type_ref(i) for i in named.interfaces) + ".", ""]
        if isinstance(named, GraphQLInterfaceType):
            implementations = sorted(
                t.name for t in schema.get_implementations(named).objects if t.name
            )
            refs = ", ".join(f"[`{n}`](#{anchor('type', n)})" for n in implementations)
            lines += [f"Implemented by {refs}.", ""]
        lines += field_rows(named.fields)
    elif isinstance(named, GraphQLUnionType):
        lines += ["One of " + ", ".join(type_ref(t) for t in named.types) + ".", ""]
    elif isinstance(named, GraphQLInputObjectType):
        lines += ["| field | type | default | description |", "|---|---|---|---|"]
        for name, input_field in named.fields.items():
            lines.append(
                f"| `{name}` | {type_ref(input_field.type)} | {default_of(input_field)} | "
                f"{cell(input_field.description)}"
                f"{deprecation(input_field.deprecation_reason)} |"
            )
        lines.append("")
    elif isinstance(named, GraphQLEnumType) and not any(
        value.description or value.deprecation_reason for value in named.values.values()
    ):
        # Values without descriptions of their own are explained by the type's description.
        lines += ["Values: " + ", ".join(f"`{name}`" for name in named.values) + ".", ""]
    elif isinstance(named, GraphQLEnumType):
        lines += ["| value | description |", "|---|---|"]
        for name, value in named.values.items():
            lines.append(
                f"| `{name}` | {cell(value.description)}{deprecation(value.deprecation_reason)} |"
            )
        lines.append("")
    elif isinstance(named, GraphQLScalarType) and named.specified_by_url:
        lines += [f"Specified by <{named.specified_by_url}>.", ""]
    return lines


def named_types(schema: GraphQLSchema, kind: type[GraphQLNamedType]) -> list[GraphQLNamedType]:
    """The schema's own types of one kind, by name (introspection and built-ins left out)."""
    return sorted(
        (
            t
            for name, t in schema.type_map.items()
            if isinstance(t, kind) and not name.startswith("__") and name not in BUILT_IN
        ),
        key=lambda t: t.name,
    )


def root_names(schema: GraphQLSchema) -> frozenset[str]:
    """Query, Mutation and Subscription: documented as operations, not as types."""
    roots = (schema.query_type, schema.mutation_type, schema.subscription_type)
    return frozenset(root.name for root in roots if root is not None)


def contents(schema: GraphQLSchema) -> list[str]:
    """The table of contents: every operation and every type, linked."""
    lines = ["## Contents", ""]
    roots = [
        (schema.query_type, OPERATIONS[0]),
        (schema.mutation_type, OPERATIONS[1]),
        (schema.subscription_type, SUBSCRIPTION),
    ]
    for root, (_, prefix, title) in roots:
        if root is None:
            continue
        links = ", ".join(f"[`{n}`](#{anchor(prefix, n)})" for n in root.fields)
        lines.append(f"- **{title}**: {links}")
    for title, kind in KINDS:
        found = [t for t in named_types(schema, kind) if t.name not in root_names(schema)]
        if found:
            links = ", ".join(f"[`{t.name}`](#{anchor('type', t.name)})" for t in found)
            lines.append(f"- **{title}**: {links}")
    return [*lines, ""]


def render(sdl: str) -> str:
    """The whole reference for the schema in `sdl`."""
    schema = build_schema(sdl)
    lines = [HEADER.format(built_in=BUILT_IN_SCALARS), "", *contents(schema)]
    lines += operation_sections(schema.query_type, "query", "Queries")
    lines += operation_sections(schema.mutation_type, "mutation", "Mutations")
    lines += operation_sections(schema.subscription_type, "subscription", "Subscriptions")
    for title, kind in KINDS:
        found = [t for t in named_types(schema, kind) if t.name not in root_names(schema)]
        if found:
            lines += [f"## {title}", ""]
            for named in found:
                lines += type_section(schema, named)
    return "\n".join(_trimmed(lines)).rstrip("\n") + "\n"


def _trimmed(lines: Iterable[str]) -> Iterable[str]:
    """The lines with trailing spaces removed (Markdown linters and diffs prefer that)."""
    return (line.rstrip() for line in lines)


def write_reference(sdl: str | None = None) -> Path:
    """Write docs/api/reference.md from the SDL (the committed export by default)."""
    text = render(SCHEMA_SDL.read_text() if sdl is None else sdl)
    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    REFERENCE.write_text(text)
    return REFERENCE


def is_current(sdl: str | None = None) -> bool:
    """Whether docs/api/reference.md is what the SDL generates."""
    text = render(SCHEMA_SDL.read_text() if sdl is None else sdl)
    return REFERENCE.exists() and REFERENCE.read_text() == text


def main(argv: list[str] | None = None) -> int:
    """Write the reference, or with --check fail when it is stale."""
    parser = argparse.ArgumentParser(prog="python -m graphql_schema.reference", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when the reference is stale")
    args = parser.parse_args(argv)
    if args.check:
        if not is_current():
            print(f"{REFERENCE} is stale: run `taskstream schema`", file=sys.stderr)
            return 1
        return 0
    print(f"wrote {write_reference()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
