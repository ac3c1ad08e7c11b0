"""Logs: one JSON object per line for machines, one short (coloured) line per event for people.

Which one is chosen by TASKSTREAM_LOG_JSON: true or false, or unset to decide by the output:
a terminal gets the short lines (coloured), anything else (a container's log, a file, a pipe)
gets JSON.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of the message with ANSI colours
    "taskName",
}

_RESET = "\x1b[0m"
_DIM = "\x1b[2m"
_COLOURS = {
    "DEBUG": "\x1b[2m",
    "INFO": "\x1b[32m",
    "WARNING": "\x1b[33m",
    "ERROR": "\x1b[31m",
    "CRITICAL": "\x1b[1;31m",
}
_SHORT_LEVELS = {"WARNING": "WARN", "CRITICAL": "CRIT"}


def _extras(record: logging.LogRecord) -> dict[str, object]:
    """The fields passed with `extra=` (and any set on the record since)."""
    return {key: value for key, value in vars(record).items() if key not in _STANDARD}


class JsonFormatter(logging.Formatter):
    """Formats a record as JSON with its extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one JSON line."""
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_extras(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class HumanFormatter(logging.Formatter):
    """`12:34:56 WARN  logger: message key=value ...`, coloured by level when asked."""

    def __init__(self, *, colour: bool) -> None:
        super().__init__()
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        """The record as one short line (and the traceback under it, if any)."""
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        level = _SHORT_LEVELS.get(record.levelname, record.levelname)
        fields = " ".join(f"{key}={_short(value)}" for key, value in _extras(record).items())
        # One line per event: a message with line breaks (a migration's docstring) is folded.
        message = " ".join(part.strip() for part in record.getMessage().splitlines())
        if self.colour:
            colour = _COLOURS.get(record.levelname, "")
            line = f"{_DIM}{when}{_RESET} {colour}{level:<5}{_RESET} {_DIM}{record.name}:{_RESET} "
            line += message + (f" {_DIM}{fields}{_RESET}" if fields else "")
        else:
            line = f"{when} {level:<5} {record.name}: {message}" + (f" {fields}" if fields else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _short(value: object) -> str:
    """A field's value as a person reads it: bare when it has no spaces, else quoted."""
    text = str(value)
    return text if text and " " not in text and '"' not in text else json.dumps(text)


class TraceIdFilter(logging.Filter):
    """Adds `trace_id` to records logged inside a trace, so a log line leads to its trace."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keep the record; tag it when a span is current."""
        from taskstream.telemetry import current_trace_id

        trace_id = current_trace_id()
        if trace_id is not None and not hasattr(record, "trace_id"):
            record.trace_id = trace_id
        return True


def configure_logging(*, level: str, json_lines: bool | None, stream: TextIO | None = None) -> None:
    """Send every log record to stderr: JSON, short lines, or (None) by whether it is a TTY."""
    output = stream if stream is not None else sys.stderr
    terminal = output.isatty()
    if json_lines is None:
        json_lines = not terminal
    handler = logging.StreamHandler(output)
    handler.setFormatter(JsonFormatter() if json_lines else HumanFormatter(colour=terminal))
    handler.addFilter(TraceIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request it makes at INFO (internal API calls, health polls): a line per
    # request would drown the lines that matter; requests are measured and traced instead, and
    # failures still reach the log as the callers' own warnings and errors.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
