"""Secrets a process learns after it started (a key given through `Configure`), redacted from its log.

`configure_logging` redacts the secrets of the environment it starts with. A key set at runtime is
in no environment variable, and libraries log what a vendor sends back: httpcore, at DEBUG, logs
every response header, and a vendor that echoes the key it refused in a header puts it there. So a
process that is given a secret at runtime hands it to `redact_from_now_on` before using it.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Iterable

from prizm_core.logs import RedactingFilter

__all__ = ["LearnedSecretsFilter", "redact_from_now_on"]

_REDACTED = "[REDACTED]"  # as `RedactingFilter` writes it
_MIN_SECRET_LENGTH = 6  # shorter values would redact ordinary words


class LearnedSecretsFilter(logging.Filter):
    """Replaces secrets learned at runtime in records the redacting filter has already rendered."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: list[str] = []

    def learn(self, secrets: Iterable[str]) -> None:
        """Redacts `secrets` from now on: as they are, in a bytes repr (httpcore's headers) and
        URL-encoded (a URL's query)."""
        forms = {
            form
            for secret in secrets
            if len(secret) >= _MIN_SECRET_LENGTH
            for form in (secret, repr(secret.encode())[2:-1], urllib.parse.quote(secret, safe=""))
        }
        self._secrets = sorted({*self._secrets, *forms}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        """Redacts the record's message, exception and stack (rendered to text by then)."""
        for secret in self._secrets:
            if isinstance(record.msg, str):
                record.msg = record.msg.replace(secret, _REDACTED)
            if record.exc_text:
                record.exc_text = record.exc_text.replace(secret, _REDACTED)
            if record.stack_info:
                record.stack_info = record.stack_info.replace(secret, _REDACTED)
        return True


def redact_from_now_on(secrets: Iterable[str]) -> None:
    """Makes every log handler of the process that redacts (those of `configure_logging`) redact
    `secrets` too, after its own redaction has rendered the record."""
    learned = list(secrets)
    if not learned:
        return
    handlers = {*logging.getLogger().handlers, logging.lastResort}
    for handler in handlers:
        if handler is None or not any(isinstance(f, RedactingFilter) for f in handler.filters):
            continue
        mine = [f for f in handler.filters if isinstance(f, LearnedSecretsFilter)]
        if not mine:
            mine = [LearnedSecretsFilter()]
            handler.addFilter(mine[0])  # last: after the redacting filter rendered the message
        mine[0].learn(learned)
