"""Secrets never reach a log line: known values and key shapes, in messages, args and tracebacks."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from prizm_core.logs import RateLimitingFilter, RedactingFilter, relay, secret_values

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


def test_unprintable_text_is_escaped_so_one_record_is_one_line(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = captured
    logger.warning("caller %s", "caf\u00e9 \x1b[31mred\x7f\r\nforged\u202e\udcff\x80")
    assert (
        buffer.getvalue() == "WARNING caller caf\u00e9 \\x1b[31mred\\x7f\\x0d\\x0aforged\\u202e\\udcff\\x80\n"
    )


def test_bytes_arguments_are_escaped_and_redacted(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = captured
    logger.error("Invalid encoding on %s", b"abc\xff\xfe " + SECRET.encode() + b" sk-CANARY-abcdef123456")
    assert buffer.getvalue() == "ERROR Invalid encoding on b'abc\\xff\\xfe [REDACTED] [REDACTED]'\n"


def test_a_secret_is_redacted_as_a_bytes_repr_shows_it() -> None:
    redactor = RedactingFilter(["p\u00e4sswort-1"])
    assert (
        redactor.redact(str("p\u00e4sswort-1 \xff".encode("utf-8", "surrogateescape")))
        == "b'[REDACTED] \\xc3\\xbf'"
    )


def test_a_log_call_whose_arguments_do_not_fit_does_not_raise(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = captured
    logger.warning("attempt %d of %d", "one")  # noqa: PLE1206 - the mistake under test
    assert buffer.getvalue() == "WARNING 'attempt %d of %d' % ('one',) (arguments do not fit the message)\n"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def limited() -> Iterator[tuple[logging.Logger, io.StringIO, Clock, RateLimitingFilter]]:
    """A logger whose handler rate-limits (burst 10 per 10 s on a fake clock), then redacts."""
    buffer, clock = io.StringIO(), Clock()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    limiter = RateLimitingFilter(handler.handle, burst=10, interval_s=10.0, clock=clock, timer=False)
    handler.addFilter(limiter)
    handler.addFilter(RedactingFilter([SECRET]))
    logger = logging.getLogger(f"{__name__}.limited")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, buffer, clock, limiter
    logger.handlers.clear()


Limited = tuple[logging.Logger, io.StringIO, Clock, RateLimitingFilter]


def _lines(buffer: io.StringIO) -> list[str]:
    return buffer.getvalue().splitlines()


def _not_logged(lines: list[str]) -> int:
    """The counts the summary lines give."""
    return sum(int(line.split()[2]) for line in lines if "more like this were not logged" in line)


def test_a_flood_of_identical_warnings_gives_a_bounded_number_of_lines_with_the_right_count(
    limited: Limited,
) -> None:
    logger, buffer, clock, limiter = limited
    for index in range(100_000):  # 100,000 over 60 s: 6 windows of 10 s, 16,667 records each
        clock.now = 1000.0 + index * 0.0006
        logger.warning("malformed %s request from %s: %s", "Transform", f"ipv4:10.0.0.1:{index}", "bad")
    limiter.flush(everything=True)
    lines = _lines(buffer)
    assert len(lines) == 6 * 11  # each window: its first 10 records, then one count
    passed = [line for line in lines if line.startswith(f"WARNING {__name__}.limited malformed Transform")]
    assert len(passed) == 60
    assert _not_logged(lines) == 100_000 - 60
    assert lines[10] == (
        f"WARNING {__name__}.limited 16657 more like this were not logged in 10.0 s: "
        "malformed %s request from %s: %s"
    )


def test_distinct_templates_are_limited_separately(limited: Limited) -> None:
    logger, buffer, _, limiter = limited
    for _ in range(50):
        logger.warning("first kind %s", "x")
        logger.warning("second kind %s", "y")
        logger.error("first kind %s", "x")  # another level: another kind
    limiter.flush(everything=True)
    lines = _lines(buffer)
    assert lines.count(f"WARNING {__name__}.limited first kind x") == 10
    assert lines.count(f"WARNING {__name__}.limited second kind y") == 10
    assert lines.count(f"ERROR {__name__}.limited first kind x") == 10
    assert _not_logged(lines) == 3 * 40


def test_the_count_comes_when_the_interval_ends_on_the_next_record_of_any_kind(limited: Limited) -> None:
    logger, buffer, clock, _ = limited
    for _ in range(25):
        logger.warning("refused %s", "x")
    clock.now += 9.9
    logger.info("job %s done", "j1")
    assert _not_logged(_lines(buffer)) == 0, "not before the interval ends"
    clock.now += 0.1
    logger.info("job %s done", "j2")
    lines = _lines(buffer)
    assert lines[-2:] == [
        f"WARNING {__name__}.limited 15 more like this were not logged in 10.0 s: refused %s",
        f"INFO {__name__}.limited job j2 done",
    ]
    logger.warning("refused %s", "x")
    assert _lines(buffer)[-1] == f"WARNING {__name__}.limited refused x", "a new interval, a new burst"


def test_info_is_limited_only_when_it_asks_to_be(limited: Limited) -> None:
    logger, buffer, _, limiter = limited
    for index in range(100):
        logger.info("job %s started", index)
        logger.info("chunk refused from %s", "peer", extra={"rate_limit": True})
    limiter.flush(everything=True)
    lines = _lines(buffer)
    assert sum("started" in line for line in lines) == 100
    assert sum(line.endswith("chunk refused from peer") for line in lines) == 10
    assert lines[-1].endswith("90 more like this were not logged in 0.0 s: chunk refused from %s")


def test_secrets_are_redacted_in_the_count_too(limited: Limited) -> None:
    logger, buffer, _, limiter = limited
    for index in range(20):
        logger.warning(f"vendor refused key {SECRET} (try {index})")  # noqa: G004 - formatted before logging
    limiter.flush(everything=True)
    output = buffer.getvalue()
    assert SECRET not in output
    assert output.splitlines()[-1] == (
        f"WARNING {__name__}.limited 10 more like this were not logged in 0.0 s: "
        "vendor refused key [REDACTED] (try 0)"
    ), "a message formatted before logging is one kind per call site"


def test_the_kinds_kept_are_bounded_and_an_evicted_kind_gives_its_count_at_once() -> None:
    clock, out = Clock(), list[logging.LogRecord]()
    limiter = RateLimitingFilter(out.append, burst=1, max_kinds=100, clock=clock, timer=False)

    def record(index: int) -> logging.LogRecord:
        return logging.LogRecord("x", logging.WARNING, "f.py", 1, f"kind {index} %s", ("v",), None)

    assert [limiter.filter(record(0)), limiter.filter(record(0)), limiter.filter(record(0))] == [
        True,
        False,
        False,
    ]
    for index in range(1, 1000):
        limiter.filter(record(index))
    assert len(limiter._windows) == 100
    assert [r.getMessage() for r in out] == ["2 more like this were not logged in 0.0 s: kind 0 %s"]


def test_a_timer_says_the_count_when_nothing_else_is_logged() -> None:
    out: list[logging.LogRecord] = []
    limiter = RateLimitingFilter(out.append, burst=1, interval_s=0.2)
    for _ in range(5):
        limiter.filter(logging.LogRecord("x", logging.ERROR, "f.py", 1, "boom %s", ("v",), None))
    deadline = time.monotonic() + 5
    while not out and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [r.getMessage()[:32] for r in out] == ["4 more like this were not logged"]


ENV_SECRET = "env-secret-0123456789"
_PROLOGUE = """
import logging, os, subprocess, sys
from prizm_core.logs import configure_logging
configure_logging("INFO")
"""


def _stderr_of(script: str, *flags: str) -> tuple[int, bytes]:
    """The exit status and the raw stderr of a Python process that configures logging, then runs `script`."""
    done = subprocess.run(
        [sys.executable, *flags, "-c", _PROLOGUE + textwrap.dedent(script)],
        capture_output=True,
        env={**os.environ, "VENDOR_API_KEY": ENV_SECRET},
        timeout=60,
        check=False,
    )
    return done.returncode, done.stderr


def test_every_layer_that_writes_to_stderr_is_redacted_and_escaped() -> None:
    status, stderr = _stderr_of(r"""
        canary = b"sk-CANARY-0123456789"
        logging.getLogger("grpc._cython.cygrpc").error("Invalid encoding on %s", b"a\xff " + canary)
        os.write(2, b"E1127 10:58:20.123456   4242 hpack_parser.cc:1048] v \xff\x1b[2J " + canary + b"\n")
        print("printed", os.environ["VENDOR_API_KEY"], "\x1b[31m", file=sys.stderr, flush=True)
        subprocess.run(["sh", "-c", 'printf "child \\377 %s\\n" "$VENDOR_API_KEY" >&2'], check=True)
        os.write(2, b"last words, no newline, sk-CANARY-0123456789")
        os._exit(3)  # no atexit, no flush: the relay still has every line
    """)
    text = stderr.decode("utf-8")  # strict: no raw byte that is not UTF-8
    lines = text.splitlines()
    assert status == 3
    assert "CANARY" not in text and ENV_SECRET not in text and "\x1b" not in text, text
    assert any(
        line.endswith(" ERROR grpc._cython.cygrpc: Invalid encoding on b'a\\xff [REDACTED]'")
        for line in lines
    )
    assert any(
        line.endswith(" ERROR grpc.core: hpack_parser.cc:1048] v \\xff\\x1b[2J [REDACTED]") for line in lines
    )
    assert "printed [REDACTED] \\x1b[31m" in lines
    assert "child \\xff [REDACTED]" in lines, "a child that inherited fd 2 writes through the relay"
    assert lines[-1] == "last words, no newline, [REDACTED]"


def test_a_flood_of_core_errors_is_rate_limited_and_counted_at_exit() -> None:
    status, stderr = _stderr_of(r"""
        line = b"E1127 10:58:20.%06d   4242 hpack_parser.cc:1048] Error parsing 'grpc-timeout' metadata\n"
        for index in range(1000):
            os.write(2, line % index)
    """)
    lines = stderr.decode("utf-8").splitlines()
    assert status == 0
    assert len(lines) == 11, lines
    assert all(
        line.endswith(" ERROR grpc.core: hpack_parser.cc:1048] Error parsing 'grpc-timeout' metadata")
        for line in lines[:10]
    )
    assert " ERROR grpc.core: 990 more like this were not logged in " in lines[-1]
    assert lines[-1].endswith(" s: hpack_parser.cc:1048] %s")


def test_fatal_crash_output_still_reaches_stderr() -> None:
    status, stderr = _stderr_of(
        """
        logging.getLogger("x").error("about to abort")
        os.write(2, b"F1127 10:58:20.123456   4242 server.cc:1] assertion failed\\n")
        os.abort()
        """,
        "-X",
        "faulthandler",
    )
    text = stderr.decode("utf-8")
    assert status == -6
    assert "about to abort" in text
    assert "CRITICAL grpc.core: server.cc:1] assertion failed" in text
    assert "Fatal Python error: Aborted" in text


def test_the_relay_cuts_long_lines_and_escapes_the_rest() -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"x" * 20_000 + b" sk-CANARY-0123456789\nshort \xff line\r\n" + b"y" * 30_000)
    os.write(write_end, b"\nlast, without a newline")
    os.close(write_end)
    sink = io.StringIO()
    try:
        relay(read_end, sink)
    finally:
        os.close(read_end)
        core = logging.getLogger("grpc.core")
        core.handlers.clear()
        core.propagate = True
    assert sink.getvalue().splitlines() == [
        "x" * 16 * 1024 + " [line cut]",
        "short \\xff line\\x0d",
        "y" * 16 * 1024 + " [line cut]",
        "last, without a newline",
    ]
