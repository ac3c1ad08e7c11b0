"""docs/api/reference.md is generated from the exported schema, which describes everything."""

from __future__ import annotations

from graphql import (
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
)

from cli.main import SCHEMA_SDL, exported_sdl
from graphql_schema import reference


def exported() -> GraphQLSchema:
    """The schema as the server exports it now."""
    return build_schema(exported_sdl())


def test_reference_is_current() -> None:
    assert reference.REFERENCE.exists(), "run `taskstream schema`"
    assert reference.REFERENCE.read_text() == reference.render(SCHEMA_SDL.read_text()), (
        "docs/api/reference.md is stale: run `taskstream schema`"
    )


def test_reference_is_generated_from_what_the_server_exports() -> None:
    assert reference.is_current(exported_sdl()), "run `taskstream schema`"


def test_every_type_field_and_argument_has_a_description() -> None:
    missing = []
    for name, named in exported().type_map.items():
        if name.startswith("__") or name in reference.BUILT_IN:
            continue
        if not (named.description or "").strip():
            missing.append(name)
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in named.fields.items():
                if not (field.description or "").strip():
                    missing.append(f"{name}.{field_name}")
                missing += [
                    f"{name}.{field_name}({arg})"
                    for arg, argument in field.args.items()
                    if not (argument.description or "").strip()
                ]
        if isinstance(named, GraphQLInputObjectType):
            missing += [
                f"{name}.{field_name}"
                for field_name, field in named.fields.items()
                if not (field.description or "").strip()
            ]
    assert missing == [], f"add description= in graphql_schema/ for: {', '.join(missing)}"


def test_reference_covers_every_operation_and_type_with_an_anchor() -> None:
    text = reference.REFERENCE.read_text()
    schema = exported()
    roots = {"query": schema.query_type, "mutation": schema.mutation_type}
    roots["subscription"] = schema.subscription_type
    for prefix, root in roots.items():
        assert root is not None
        for field_name in root.fields:
            assert f'<a id="{reference.anchor(prefix, field_name)}"></a>' in text
            assert f"(#{reference.anchor(prefix, field_name)})" in text, "not in the contents"
    for name in schema.type_map:
        if name.startswith("__") or name in reference.BUILT_IN | reference.root_names(schema):
            continue
        assert f'<a id="{reference.anchor("type", name)}"></a>' in text, name
        assert f"(#{reference.anchor('type', name)})" in text, f"{name} not in the contents"
    # Every link points at an anchor of the page.
    anchors = set(_between(text, '<a id="', '"></a>'))
    assert set(_between(text, "](#", ")")) <= anchors


def test_reference_shows_defaults_and_arguments() -> None:
    text = reference.REFERENCE.read_text()
    assert "| `first` | `Int` | `50` |" in text
    assert "| `repeatFrom` | [`RepeatFrom!`](#type-repeatfrom) | `DUE_DATE` |" in text
    assert "Argument `limit`: `Int!` = `5`." in text


def test_deprecations_are_shown() -> None:
    sdl = 'type Query {\n  "Old."\n  old: Int @deprecated(reason: "Use new.")\n}\n'
    text = reference.render(sdl)
    assert "Old. **Deprecated:** Use new." in text


def _between(text: str, start: str, end: str) -> list[str]:
    """Every substring of text between start and the next end."""
    found = []
    for piece in text.split(start)[1:]:
        found.append(piece.split(end, 1)[0])
    return found
