"""Log formatters: one JSON object per line, or text lines that end with the call's identity.

Both read the fields `ContextFilter` put on the record (job, caller, request, trace, span) and the
message the redacting filter already rendered, so a JSON line never holds more than a text line.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from prizm_core.telemetry.log_context import CONTEXT_FIELDS, ContextFilter

__all__ = ["LOG_FORMATS", "JsonFormatter", "TextFormatter", "formatter", "log_format_in_use", "with_context"]

LOG_FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the context fields, and the
    exception or stack when there is one (one line: newlines are escaped by JSON)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            entry[name] = str(getattr(record, name, ""))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`fmt`, then ` job_id=… caller=… trace_id=… request_id=…` for the fields that are set."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as text, with its context at the end of its first line."""
        text = super().format(record)
        context = " ".join(
            f"{name}={value}"
            for name in ("job_id", "caller", "trace_id", "request_id")
            if (value := getattr(record, name, ""))
        )
        if not context:
            return text
        first, newline, rest = text.partition("\n")
        return f"{first} [{context}]{newline}{rest}"


def formatter(log_format: str, fmt: str) -> logging.Formatter:
    """The formatter for `--log-format` (`text` uses `fmt`).

    Raises:
        ValueError: `log_format` is not one of `LOG_FORMATS`.
    """
    if log_format == "json":
        return JsonFormatter()
    if log_format == "text":
        return TextFormatter(fmt)
    raise ValueError(f"unknown log format {log_format!r}; choose one of {', '.join(LOG_FORMATS)}")


def with_context(handler: logging.Handler, log_format: str, fmt: str, clean: Callable[[str], str]) -> None:
    """Gives `handler` the context fields of each record (after its other filters) and the format.

    Args:
        handler: A handler whose filters already redact the message.
        log_format: `text` or `json`.
        fmt: The text format.
        clean: Redacts and escapes the caller-supplied fields (caller, request id).
    """
    handler.setFormatter(formatter(log_format, fmt))
    handler.addFilter(ContextFilter(clean))


def log_format_in_use() -> str:
    """`json` when the process logs JSON (`configure_logging`), else `text`: what its children use."""
    handlers = logging.getLogger().handlers
    return "json" if any(isinstance(h.formatter, JsonFormatter) for h in handlers) else "text"
