"""Logging setup for every Prizm process, with secrets redacted from every record."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping

__all__ = ["RedactingFilter", "configure_logging", "secret_values"]

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|CREDENTIALS?)$", re.IGNORECASE)
# Shapes of vendor keys that must never be printed even when we did not load them.
_SECRET_SHAPES = re.compile(r"\b(sk-[A-Za-z0-9_-]{8,}|r8_[A-Za-z0-9]{16,}|Bearer\s+[A-Za-z0-9._~+/=-]{8,})")
_MIN_SECRET_LENGTH = 6


def secret_values(environ: Mapping[str, str]) -> list[str]:
    """Values of environment variables whose names say they are secrets."""
    return sorted(
        {
            value
            for name, value in environ.items()
            if _SECRET_NAME.search(name) and len(value) >= _MIN_SECRET_LENGTH
        },
        key=len,
        reverse=True,
    )


class RedactingFilter(logging.Filter):
    """Replaces known secret values and key-shaped strings in log records with `[REDACTED]`."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = secrets

    def redact(self, text: str) -> str:
        """`text` with every secret replaced."""
        for secret in self._secrets:
            text = text.replace(secret, "[REDACTED]")
        return _SECRET_SHAPES.sub("[REDACTED]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Renders the record's message and exception once, redacted."""
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info:
            formatter = logging.Formatter()
            record.exc_text = self.redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        return True


def configure_logging(level: str = "INFO") -> None:
    """Logs to stderr with timestamps, process name and redaction of secrets."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secret_values(os.environ)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
