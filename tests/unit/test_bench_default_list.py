"""The shared-projects benchmark sends the web app's own requests, valid for the schema."""

from __future__ import annotations

from graphql import parse, validate

from bench.shared_projects import web_calendar_document, web_list_document
from graphql_schema.schema import build_schema
from taskstream.settings import Settings


def test_the_default_list_is_the_web_apps_tasks_query_with_and_without_its_count() -> None:
    schema = build_schema(Settings())._schema
    counted, uncounted = (web_list_document(total_count=flag) for flag in (True, False))
    for document in (counted, uncounted):
        assert validate(schema, parse(document)) == []
        assert "query Tasks(" in document and "fragment TaskListItem on Task" in document
    assert "totalCount" in counted and "totalCount" not in uncounted


def test_the_calendar_is_the_web_apps_calendar_query() -> None:
    schema = build_schema(Settings())._schema
    document = web_calendar_document()
    assert validate(schema, parse(document)) == []
    assert "query CalendarTasks(" in document and "mutation" not in document
