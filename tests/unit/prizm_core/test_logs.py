"""Secrets never reach a log line: known values and key shapes, in messages, args and tracebacks."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from prizm_core.logs import RedactingFilter, secret_values

SECRET = "hunter2-very-secret"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A real logger whose one handler redacts and writes to a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter([SECRET]))
    logger = logging.getLogger(f"{__name__}.captured")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, buffer
    logger.handlers.clear()


def test_secret_value_in_message_is_redacted(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = captured
    logger.info(f"calling vendor with {SECRET} now")  # noqa: G004 - the secret must be in msg itself
    assert buffer.getvalue() == "INFO calling vendor with [REDACTED] now\n"


def test_secret_value_in_args_is_redacted(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = captured
    logger.warning("key=%s attempt=%d", SECRET, 2)
    assert buffer.getvalue() == "WARNING key=[REDACTED] attempt=2\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("token sk-abcdef1234567890XYZ used", "token [REDACTED] used"),
        ("project key sk-proj-AbC_def-12345678", "project key [REDACTED]"),
        ("Authorization: Bearer eyJhbGciOi.JIUzI1NiJ9", "Authorization: [REDACTED]"),
        ("replicate r8_abcdefghijklmnopqrst", "replicate [REDACTED]"),
        ("short sk-abc stays", "short sk-abc stays"),
        ("task-manager sk-ipping", "task-manager sk-ipping"),
        ("Bearer of good news", "Bearer of good news"),
    ],
)
def test_key_shapes_are_redacted_even_when_not_loaded(
    captured: tuple[logging.Logger, io.StringIO], text: str, expected: str
) -> None:
    logger, buffer = captured
    logger.info("%s", text)
    assert buffer.getvalue() == f"INFO {expected}\n"


def test_exception_text_is_redacted(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = captured
    try:
        raise RuntimeError(f"vendor rejected {SECRET} and Bearer abcdefgh12345678")
    except RuntimeError:
        logger.exception("call failed")
    output = buffer.getvalue()
    assert output.startswith("ERROR call failed\nTraceback (most recent call last):")
    assert "RuntimeError: vendor rejected [REDACTED] and [REDACTED]" in output
    assert SECRET not in output
    assert "abcdefgh12345678" not in output


def test_longer_secrets_are_replaced_before_their_prefixes() -> None:
    environ = {"SHORT_TOKEN": "abcdef", "LONG_TOKEN": "abcdefghij"}
    redactor = RedactingFilter(secret_values(environ))
    assert redactor.redact("x abcdefghij y abcdef z") == "x [REDACTED] y [REDACTED] z"


def test_secret_values_picks_secret_names_only() -> None:
    environ = {
        "OPENAI_API_KEY": "sk-live-1",
        "HF_TOKEN": "hf_token_value",
        "CLIENT_SECRET": "client-secret-value",
        "db_password": "pa55word",
        "GOOGLE_APPLICATION_CREDENTIALS": "/etc/creds.json",
        "HOME": "/home/someone",
        "PATH": "/usr/bin:/bin",
        "KEYBOARD": "us-layout",
        "TOKEN_URL": "https://example.com/token",
        "SHORT_KEY": "abc",
    }
    assert secret_values(environ) == sorted(
        ["sk-live-1", "hf_token_value", "client-secret-value", "pa55word", "/etc/creds.json"],
        key=len,
        reverse=True,
    )


def test_secret_values_deduplicates() -> None:
    assert secret_values({"A_KEY": "same-value", "B_TOKEN": "same-value"}) == ["same-value"]
