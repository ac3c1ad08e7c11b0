"""Logs for people on a terminal, JSON elsewhere, or as TASKSTREAM_LOG_JSON says."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from taskstream.logs import configure_logging
from taskstream.settings import Settings


class Terminal(io.StringIO):
    """A stream that says it is a TTY."""

    def isatty(self) -> bool:
        """As a terminal does."""
        return True


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root, httpx = logging.getLogger(), logging.getLogger("httpx")
    handlers, level, httpx_level = root.handlers[:], root.level, httpx.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    httpx.setLevel(httpx_level)


def emit(stream: io.StringIO, json_lines: bool | None) -> str:
    """What one warning with extra fields looks like on `stream`."""
    configure_logging(level="INFO", json_lines=json_lines, stream=stream)
    logging.getLogger("taskstream.test").warning(
        "handler crashed", extra={"group": "audit", "topic": "task-events", "why": "two words"}
    )
    return stream.getvalue()


def test_a_terminal_gets_one_short_coloured_line() -> None:
    out = emit(Terminal(), None)
    assert out.count("\n") == 1
    assert "\x1b[33mWARN " in out
    plain = out
    for code in ("\x1b[0m", "\x1b[2m", "\x1b[33m"):
        plain = plain.replace(code, "")
    assert plain.split(" ", 1)[1] == (
        'WARN  taskstream.test: handler crashed group=audit topic=task-events why="two words"\n'
    )


def test_anything_but_a_terminal_gets_json() -> None:
    entry = json.loads(emit(io.StringIO(), None))
    assert entry["level"] == "WARNING"
    assert entry["message"] == "handler crashed"
    assert (entry["group"], entry["topic"]) == ("audit", "task-events")


def test_the_setting_decides_when_given() -> None:
    assert json.loads(emit(Terminal(), True))["logger"] == "taskstream.test"
    short = emit(io.StringIO(), False)
    assert "\x1b[" not in short
    assert short.split(" ", 1)[1].startswith("WARN  taskstream.test: handler crashed group=audit")


def test_unset_means_decide_by_the_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TASKSTREAM_LOG_JSON", raising=False)
    assert Settings().log_json is None
    monkeypatch.setenv("TASKSTREAM_LOG_JSON", "true")
    assert Settings().log_json is True


def test_a_line_logged_inside_a_trace_carries_its_trace_id() -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind, use_span

    from taskstream import telemetry

    assert telemetry.configure_tracing(
        Settings(), service="test", processor=SimpleSpanProcessor(InMemorySpanExporter())
    )
    try:
        stream = io.StringIO()
        configure_logging(level="INFO", json_lines=True, stream=stream)
        span = telemetry.start_span("work", kind=SpanKind.INTERNAL)
        with use_span(span, end_on_exit=True):
            logging.getLogger("taskstream.test").info("inside")
        logging.getLogger("taskstream.test").info("outside")
        inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
        assert inside["trace_id"] == format(span.get_span_context().trace_id, "032x")
        assert "trace_id" not in outside
    finally:
        telemetry.shutdown_tracing()


def test_a_message_with_line_breaks_is_still_one_line_on_a_terminal() -> None:
    stream = Terminal()
    configure_logging(level="INFO", json_lines=False, stream=stream)
    logging.getLogger("alembic.runtime.migration").info(
        "Running upgrade a -> b, Invitation notices: the email\neach invitation gets."
    )
    assert stream.getvalue().count("\n") == 1
    assert "the email each invitation gets." in stream.getvalue()


def test_a_request_made_with_httpx_is_not_a_line_of_its_own() -> None:
    stream = Terminal()
    configure_logging(level="INFO", json_lines=False, stream=stream)
    logging.getLogger("httpx").info('HTTP Request: GET http://audit.internal/ "HTTP/1.1 200 OK"')
    logging.getLogger("httpx").warning("a request failed")
    assert "HTTP Request" not in stream.getvalue()
    assert "a request failed" in stream.getvalue()
