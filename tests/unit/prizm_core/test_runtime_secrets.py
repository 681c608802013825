"""A secret learned at runtime is redacted from log records like those of the environment."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from prizm_core.logs import RedactingFilter
from prizm_core.runtime_secrets import LearnedSecretsFilter, redact_from_now_on

LEARNED = "vendor-CANARY-0f1e2d3c4b5a"  # no key shape: only its value can redact it


@pytest.fixture(name="buffer")
def _buffer() -> Iterator[io.StringIO]:
    """The root logger writing through a redacting handler (as `configure_logging` sets it up) to a
    buffer; the root's handlers as they were afterwards."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(RedactingFilter(["env-secret-value"]))
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG)
    yield buffer
    root.handlers[:] = saved
    root.setLevel(level)


def test_a_key_learned_at_runtime_is_redacted_as_text_bytes_and_in_a_url(buffer: io.StringIO) -> None:
    log = logging.getLogger("httpcore.http11")
    log.debug("before: %s", LEARNED)
    redact_from_now_on([LEARNED, "short"])
    redact_from_now_on([LEARNED])  # twice: still one filter
    headers = [(b"x-echo-key", LEARNED.encode()), (b"link", f"<http://v/keys?k={LEARNED}>".encode())]
    log.debug("headers=%r env-secret-value", headers)
    try:
        raise ValueError(f"refused {LEARNED}")
    except ValueError:
        log.exception("failed")
    log.info("in short")
    lines = buffer.getvalue()
    assert lines.startswith(f"before: {LEARNED}\n")  # what was logged before is not rewritten
    after = lines.split("\n", 1)[1]
    assert LEARNED not in after
    assert "(b'x-echo-key', b'[REDACTED]')" in after
    assert "keys?k=[REDACTED]>" in after
    assert "env-secret-value" not in after  # the environment's secrets are still redacted too
    assert "ValueError: refused [REDACTED]" in after
    assert "in short" in after  # too short to be a secret: it would redact ordinary words
    assert [type(f) for f in logging.getLogger().handlers[0].filters].count(LearnedSecretsFilter) == 1


def test_a_handler_that_does_not_redact_is_left_alone() -> None:
    handler = logging.StreamHandler(io.StringIO())
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers[:] = [handler]
    try:
        redact_from_now_on([LEARNED])
    finally:
        root.handlers[:] = saved
    assert handler.filters == []
