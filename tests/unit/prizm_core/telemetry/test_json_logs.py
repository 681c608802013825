"""Structured logs: one JSON object per line with the call's context, redacted like text lines."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider

from prizm_core.logs import configure_logging
from prizm_core.telemetry import log_context
from prizm_core.telemetry.json_logs import formatter, log_format_in_use
from prizm_core.telemetry.log_context import begin_request, bind_job
from provider_servers.sdk.harness import parse_settings

SECRET = "s3cr3t-vendor-key-0451"
SHAPED = "sk-proj-abcdefghijklmnop"


@pytest.fixture
def root() -> Iterator[logging.Logger]:
    """The root logger, its handlers and level put back afterwards, and no request scope left over
    (these tests run in the main context, which later tests' tasks copy)."""
    logger = logging.getLogger()
    handlers, level = logger.handlers[:], logger.level
    yield logger
    logger.handlers[:] = handlers
    logger.setLevel(level)
    log_context._scope.set(None)


def _lines(err: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in err.splitlines() if line.strip()]


def test_json_lines_carry_the_context_and_never_a_secret(
    root: logging.Logger, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ACME_API_KEY", SECRET)
    configure_logging("INFO", relay_stderr=False, log_format="json")
    assert log_format_in_use() == "json"
    log = logging.getLogger("prizm.test")
    begin_request((("x-request-id", "req-7"), ("traceparent", f"00-{'ab' * 16}-{'cd' * 8}-01")))
    bind_job("job-1", caller=f"caller-{SECRET}")
    log.info("calling the vendor with %s and %s", SECRET, SHAPED)
    try:
        raise ValueError(f"vendor said no to {SECRET}")
    except ValueError:
        log.exception("job %s failed", "job-1")
    err = capsys.readouterr().err
    assert SECRET not in err and SHAPED not in err
    first, second = _lines(err)
    assert first["message"] == "calling the vendor with [REDACTED] and [REDACTED]"
    assert {
        k: first[k] for k in ("level", "logger", "job_id", "caller", "request_id", "trace_id", "span_id")
    } == {
        "level": "INFO",
        "logger": "prizm.test",
        "job_id": "job-1",
        "caller": "caller-[REDACTED]",
        "request_id": "req-7",
        "trace_id": "ab" * 16,  # the caller's, with no span of ours
        "span_id": "",
    }
    assert first["time"].endswith("+00:00")
    assert second["level"] == "ERROR" and "[REDACTED]" in second["exception"]
    assert "ValueError" in second["exception"]


def test_a_current_span_gives_its_trace_and_span_ids(
    root: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", relay_stderr=False, log_format="json")
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        logging.getLogger("prizm.test").warning("inside")
    [line] = _lines(capsys.readouterr().err)
    context = span.get_span_context()
    assert (line["trace_id"], line["span_id"]) == (f"{context.trace_id:032x}", f"{context.span_id:016x}")


def test_text_lines_end_with_the_context_that_is_set(
    root: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", relay_stderr=False)
    assert log_format_in_use() == "text"
    begin_request((("x-request-id", "has a space"),))  # not a tame id: a fresh one replaces it
    bind_job("job-9", caller="team-a")
    logging.getLogger("prizm.test").info("started")
    err = capsys.readouterr().err
    assert " INFO prizm.test: started [job_id=job-9 caller=team-a request_id=" in err
    assert "has a space" not in err


def test_an_unknown_format_is_refused(root: logging.Logger) -> None:
    with pytest.raises(ValueError, match="unknown log format 'xml'"):
        formatter("xml", "%(message)s")


def test_providers_take_the_log_format_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_settings("synthetic", ["--log-format", "json"]).log_format == "json"
    assert parse_settings("synthetic", []).log_format == "text"
    with pytest.raises(SystemExit):
        parse_settings("synthetic", ["--log-format", "xml"])
    assert "invalid choice: 'xml'" in capsys.readouterr().err
