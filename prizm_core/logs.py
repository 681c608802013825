"""Logging for every Prizm process: secrets redacted, unprintable text escaped, floods rate-limited.

`configure_logging` makes sure nothing a client sends reaches stderr raw, whichever layer writes it:

- Records of every Python logger, gRPC's included (`grpc._cython.cygrpc` logs each header value that
  is not UTF-8 at ERROR, with a traceback): one root handler, also `logging.lastResort` for loggers
  that do not propagate, renders each record once, replaces secrets with `[REDACTED]` and escapes
  what is not printable (`\\xff`, `\\x1b`, a newline inside a message): one record, one line of UTF-8.
- gRPC's C core logs through absl straight to file descriptor 2: `Error parsing 'grpc-timeout'
  metadata` for each such request, and with `GRPC_TRACE=chttp2_hpack_parser` every header value, raw
  bytes and secrets included. No Python filter sees those, so fd 2 becomes a pipe read by a small
  relay process that redacts and escapes each line, turns absl lines into records of the logger
  `grpc.core` (rate-limited like any other) and writes to the real stderr; our handler writes to a
  copy of the real stderr itself. A process, not a thread, because it reads the pipe to its end: the
  last lines at exit, a fatal error printed just before abort() (absl, faulthandler) and the output of
  children that inherited fd 2 and outlive us all still arrive, where a thread dies with the process.
  Other lines (a child's own log, a traceback printed to stderr) pass cleaned but not limited. Left
  open: what the core prints before `configure_logging` runs, and, traced, a header value's own line
  break, which starts a line of its own (cleaned all the same).

Rate limit: records of one kind (logger, level and message template, i.e. `record.msg` before
formatting, or the call site when the message has no arguments) pass `burst` (10) times per
`interval_s` (10 s), with at most `max_kinds` (1,024, oldest out first) counted at once;
the rest are counted, and when the interval ends one record of that logger and level says how many
were left out. WARNING and above are limited for every logger; INFO and DEBUG only when logged with
`extra={"rate_limit": True}` (`log.info("chunk refused from %s", peer, extra={"rate_limit": True})`),
so per-job INFO lines are never silenced while any line a client can trigger at will stays bounded.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import select
import signal
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TextIO

__all__ = [
    "RATE_LIMIT",
    "RateLimitingFilter",
    "RedactingFilter",
    "configure_logging",
    "escape_unprintable",
    "relay",
    "secret_values",
]

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|CREDENTIALS?)$", re.IGNORECASE)
# Shapes of vendor keys that must never be printed even when we did not load them.
_SECRET_SHAPES = re.compile(r"\b(sk-[A-Za-z0-9_-]{8,}|r8_[A-Za-z0-9]{16,}|Bearer\s+[A-Za-z0-9._~+/=-]{8,})")
_MIN_SECRET_LENGTH = 6
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

RATE_LIMIT = "rate_limit"
"""The `extra` key that puts a record below WARNING under the rate limit."""
_SUMMARY = "rate_limit_summary"  # marks the count records, which are never limited themselves

# An absl line of gRPC's C core: severity, MMDD hh:mm:ss.micros, thread id, file:line] message.
_ABSL_LINE = re.compile(r"([IWEF])\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ ([^\] ]+)\] ?(.*)")
_ABSL_LEVELS = {"I": logging.INFO, "W": logging.WARNING, "E": logging.ERROR, "F": logging.CRITICAL}
_MAX_LINE_BYTES = 16 * 1024  # a relayed line is cut there: a 1 MiB header traced by gRPC stays one line


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


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def escape_unprintable(text: str, keep_newlines: bool = False) -> str:
    """`text` with every character that is not printable (controls, bidi marks, surrogates) as an escape.

    Args:
        text: any text, e.g. a header value decoded as latin-1.
        keep_newlines: keep line breaks (a traceback); otherwise a newline is escaped too, so no
            value can forge a log line of its own.
    """
    lines = text.split("\n") if keep_newlines else [text]
    return "\n".join(
        line if line.isprintable() else "".join(c if c.isprintable() else _escape(c) for c in line)
        for line in lines
    )


class RedactingFilter(logging.Filter):
    """Replaces known secret values and key-shaped strings in log records with `[REDACTED]`, and
    escapes what is not printable."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        # Also as gRPC prints them inside a bytes repr (`b'p\xc3\xa4ss'`) or escaped.
        variants = {form for s in secrets for form in (s, escape_unprintable(s), _bytes_repr(s))}
        self._secrets = sorted(variants, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """`text` with every secret replaced."""
        for secret in self._secrets:
            text = text.replace(secret, "[REDACTED]")
        return _SECRET_SHAPES.sub("[REDACTED]", text)

    def clean(self, text: str, keep_newlines: bool = False) -> str:
        """`text` redacted, then escaped."""
        return escape_unprintable(self.redact(text), keep_newlines)

    def filter(self, record: logging.LogRecord) -> bool:
        """Renders the record's message, exception and stack once, redacted and escaped."""
        try:
            message = record.getMessage()
        except Exception:  # a bad log call must not raise into the code that logs (gRPC's too)
            message = f"{record.msg!r} % {record.args!r} (arguments do not fit the message)"
        record.msg = self.clean(message)
        record.args = None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self.clean(record.exc_text, keep_newlines=True)
        if record.stack_info:
            record.stack_info = self.clean(record.stack_info, keep_newlines=True)
        return True


def _bytes_repr(text: str) -> str:
    return repr(text.encode())[2:-1]


@dataclass
class _Window:
    """One kind of record within its current interval, and where the first one came from."""

    started: float
    origin: dict[str, object]  # logger, level and call site of the first record, for the count
    template: str  # the first record's `msg`, which the redacting filter renders in place
    passed: int = 1
    suppressed: int = 0


class RateLimitingFilter(logging.Filter):
    """Lets `burst` records of one kind through per `interval_s`, counts the rest, and hands `sink` one
    record with the count when that interval ends.

    Put it first on a handler, with `sink=handler.handle`. Windows end on the next record of any
    kind, on a timer while some count is pending (`timer=True`), or on `flush(everything=True)`.
    """

    def __init__(
        self,
        sink: Callable[[logging.LogRecord], object],
        *,
        burst: int = 10,
        interval_s: float = 10.0,
        max_kinds: int = 1024,
        clock: Callable[[], float] = time.monotonic,
        timer: bool = True,
    ) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._sink, self._burst, self._max_kinds, self._clock = sink, burst, max_kinds, clock
        self._timer_on = timer
        self._timer: threading.Timer | None = None
        self._windows: OrderedDict[tuple[str, int, str], _Window] = OrderedDict()  # oldest first
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether `record` is logged; first hands `sink` the counts of windows that have ended."""
        if getattr(record, _SUMMARY, False):
            return True
        limited = record.levelno >= logging.WARNING or bool(getattr(record, RATE_LIMIT, False))
        now = self._clock()
        with self._lock:
            ended = self._ended(now, everything=False)
            passed = self._count(record, now, ended) if limited else True
        self._emit(ended, now)
        return passed

    def flush(self, everything: bool = False) -> None:
        """Hands `sink` the counts of windows that have ended, or of all of them (at exit)."""
        now = self._clock()
        with self._lock:
            ended = self._ended(now, everything)
        self._emit(ended, now)

    def _count(self, record: logging.LogRecord, now: float, ended: list[_Window]) -> bool:
        # Without arguments the message may have been formatted already: its call site is its kind.
        template = str(record.msg)
        kind = template if record.args else f"{record.pathname}:{record.lineno}"
        key = (record.name, record.levelno, kind)
        window = self._windows.get(key)
        if window is None:
            origin = {a: getattr(record, a) for a in ("name", "levelno", "levelname", "pathname", "lineno")}
            self._windows[key] = _Window(now, origin, template)
            if len(self._windows) > self._max_kinds:  # many kinds at once: the oldest says its count now
                ended.append(self._windows.popitem(last=False)[1])
            return True
        if window.passed < self._burst:
            window.passed += 1
            return True
        window.suppressed += 1
        if self._timer_on and self._timer is None:
            self._arm(window.started + self.interval_s - now)
        return False

    def _ended(self, now: float, everything: bool) -> list[_Window]:
        ended = []
        while self._windows:
            window = next(iter(self._windows.values()))
            if not everything and now - window.started < self.interval_s:
                break
            ended.append(self._windows.popitem(last=False)[1])
        return ended

    def _emit(self, ended: list[_Window], now: float) -> None:
        for window in ended:
            if window.suppressed:
                self._sink(self._summary(window, now))

    @staticmethod
    def _summary(window: _Window, now: float) -> logging.LogRecord:
        return logging.makeLogRecord({
            **window.origin, _SUMMARY: True,
            "msg": "%d more like this were not logged in %.1f s: %s",
            "args": (window.suppressed, now - window.started, window.template),
        })  # fmt: skip

    def _arm(self, delay: float) -> None:
        timer = threading.Timer(max(delay, 0.0), self._on_timer)
        timer.daemon = True
        try:
            timer.start()
        except RuntimeError:  # at interpreter shutdown: the flush at exit says the count
            return
        self._timer = timer

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None  # from here on, a new count arms a new timer
        self.flush()
        with self._lock:
            pending = [w.started for w in self._windows.values() if w.suppressed]
            if pending and self._timer is None:
                self._arm(min(pending) + self.interval_s - self._clock())


def _handler(stream: TextIO, timer: bool) -> tuple[logging.Handler, RateLimitingFilter]:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(_FORMAT))
    limiter = RateLimitingFilter(handler.handle, timer=timer)
    handler.addFilter(limiter)  # first: it keys on the template, which redaction renders away
    handler.addFilter(RedactingFilter(secret_values(os.environ)))
    return handler, limiter


class _LineCutter:
    """Splits a byte stream into lines of at most `_MAX_LINE_BYTES`, dropping the rest of longer ones."""

    def __init__(self) -> None:
        self._pending = b""
        self._cutting = False  # inside a line already cut: drop up to its end

    def feed(self, chunk: bytes) -> list[bytes]:
        *complete, self._pending = (self._pending + chunk).split(b"\n")
        lines = []
        for line in complete:
            if not self._cutting:
                lines.append(_cut(line))
            self._cutting = False
        if len(self._pending) > _MAX_LINE_BYTES:
            if not self._cutting:
                lines.append(_cut(self._pending))
            self._pending, self._cutting = b"", True
        return lines

    def finish(self) -> list[bytes]:
        return [] if self._cutting or not self._pending else [_cut(self._pending)]


def _cut(line: bytes) -> bytes:
    return line if len(line) <= _MAX_LINE_BYTES else line[:_MAX_LINE_BYTES] + b" [line cut]"


def relay(source: int, sink: TextIO) -> None:
    """Copies lines from file descriptor `source` to `sink` until end of file, redacted and escaped.

    gRPC core (absl) lines become records of the logger `grpc.core` at their severity, rate-limited;
    other lines (tracebacks, a child's own log) are passed on as they are, once cleaned.
    """
    handler, limiter = _handler(sink, timer=False)  # one thread: the loop below ends the windows
    core = logging.getLogger("grpc.core")
    core.handlers[:], core.propagate = [handler], False
    core.setLevel(logging.DEBUG)  # GRPC_VERBOSITY decides what the core writes
    redactor = RedactingFilter(secret_values(os.environ))
    lines = _LineCutter()
    while True:
        readable = select.select([source], [], [], limiter.interval_s)[0]
        limiter.flush()
        if not readable:
            continue
        chunk = os.read(source, 65536)
        for line in lines.feed(chunk) if chunk else lines.finish():
            text = line.decode("utf-8", "backslashreplace")  # a stray \r is escaped below
            if match := _ABSL_LINE.fullmatch(text):
                severity, location, message = match.groups()
                core.log(_ABSL_LEVELS[severity], location.replace("%", "%%") + "] %s", message)
            else:
                with_newline = redactor.clean(text) + "\n"
                try:
                    sink.write(with_newline)
                    sink.flush()
                except OSError:
                    pass  # the real stderr is gone: keep draining, so writers never block
        if not chunk:
            break
    limiter.flush(everything=True)


def _relay_stderr() -> int | None:
    """Points fd 2 at a pipe drained by `relay` in a process of its own; returns a copy of the real stderr."""
    try:
        original = os.dup(2)
    except OSError:
        return None  # no stderr at all
    read_end, write_end = os.pipe()
    try:
        # Own session: a terminal's Ctrl-C must not end it before the server has logged its shutdown.
        os.posix_spawn(
            sys.executable,
            [sys.executable, "-I", os.path.abspath(__file__)],
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, read_end, 0),
                (os.POSIX_SPAWN_DUP2, original, 1),
                (os.POSIX_SPAWN_DUP2, original, 2),
            ],
            setsid=True,
        )
        sys.stderr.flush()
        os.dup2(write_end, 2)  # inheritable: children write through the relay too
    except OSError:
        os.close(original)
        return None
    finally:
        os.close(read_end)
        os.close(write_end)
    return original


def configure_logging(level: str = "INFO", *, relay_stderr: bool = True, log_format: str = "text") -> None:
    """Logs to stderr with timestamps, logger names, redaction, escaping and a rate limit.

    Call it once, at the start of a process: it owns the root logger and, with `relay_stderr`,
    file descriptor 2 (see the module docstring).
    """
    original = _relay_stderr() if relay_stderr else None
    if original is None:
        stream = sys.stderr
    else:
        stream = open(original, "w", encoding="utf-8", errors="backslashreplace", buffering=1)  # noqa: SIM115
    handler, limiter = _handler(stream, timer=True)
    # Here, not in `_handler`: the relay process stays free of imports beyond the standard library.
    from prizm_core.telemetry.json_logs import with_context  # noqa: PLC0415

    with_context(handler, log_format, _FORMAT, RedactingFilter(secret_values(os.environ)).clean)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.lastResort = handler
    atexit.register(limiter.flush, everything=True)
    if relay_stderr and original is None:
        root.warning("stderr is not relayed: lines of gRPC's C core are not redacted")


if __name__ == "__main__":  # the relay process that `configure_logging` starts
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)  # it ends at end of file, when every writer is gone
    logging.raiseExceptions = False
    relay(0, open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False))  # noqa: SIM115
