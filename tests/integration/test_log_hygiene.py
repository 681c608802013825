"""R28, S2 and the log half of R24: header bytes that are not UTF-8, control characters and secrets
sent by a client reach no log line raw, whichever layer writes it (Python, gRPC's Python loggers,
gRPC's C core), and a flood of bad requests adds a bounded log."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from prizm_core.channels import insecure_channel
from tests.support.h2status import raw_calls

pytestmark = pytest.mark.faults

CHECK = "/grpc.health.v1.Health/Check"
TRANSFORM = "/prizm.v1.RouterService/Transform"
KEY_SHAPED = b"sk-CANARY-5d1e9a7c3b2f4e60"
ENV_SECRET = "vendor-CANARY-8b4f2a6d1c"  # only its value in the environment says it is a secret
NASTY_HEADERS = [
    (b"x-weird", b"abc\xff\xfe\x80 " + KEY_SHAPED),  # not UTF-8
    (b"x-accent", "caf\u00e9 \u2603 \u202eevil".encode()),  # UTF-8, not ASCII, with a bidi override
    (b"x-control", b"a\x01\x1b[2Jb\x7f"),  # escape sequences for a terminal
    (b"x-break", b"a\x00b\r\n2026-01-01 00:00:00,000 INFO forged: line"),
    (b"authorization", b"Bearer " + KEY_SHAPED),
    (b"prizm-caller", b"\xff " + KEY_SHAPED),
    (b"traceparent", b"00-\xff-" + KEY_SHAPED),
    (b"x-vendor-key", ENV_SECRET.encode()),
]
TRACING = {"GRPC_VERBOSITY": "INFO", "GRPC_TRACE": "chttp2_hpack_parser"}  # the core prints every header
ABSL_LINE = re.compile(rb"^[IWEF]\d{4} \d\d:\d\d:\d\d", re.MULTILINE)


@dataclass
class Router:
    """A router process whose stderr is kept as raw bytes."""

    process: subprocess.Popen[bytes]
    address: str = ""
    stderr: bytearray = field(default_factory=bytearray)
    drained: threading.Event = field(default_factory=threading.Event)

    def drain(self) -> None:
        assert self.process.stderr is not None
        while chunk := os.read(self.process.stderr.fileno(), 65536):
            self.stderr += chunk
        self.drained.set()

    def stop(self) -> bytes:
        """SIGTERM; everything it wrote to stderr, once every writer of it (its relay too) is gone."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)
        assert self.drained.wait(30), "stderr stayed open after the router exited"
        return bytes(self.stderr)


StartRouter = Callable[[dict[str, str]], Router]


@pytest.fixture
def start_router() -> Iterator[StartRouter]:
    """Starts `prizm router` on a free loopback port; stops whatever it started."""
    started: list[Router] = []

    def start(env: dict[str, str]) -> Router:
        command = [sys.executable, "-m", "prizm_core.cli", "router", "--listen", "127.0.0.1:0"]
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "OPENAI_API_KEY": ENV_SECRET, **env},
            start_new_session=True,
        )
        router = Router(process)
        started.append(router)
        threading.Thread(target=router.drain, daemon=True).start()
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(b"{") and json.loads(line).get("event") == "listening":
                router.address = json.loads(line)["address"]
                return router
        raise RuntimeError(f"the router exited before listening:\n{router.stop().decode(errors='replace')}")

    yield start
    for router in started:
        router.stop()


async def _serving(address: str) -> bool:
    async with insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        answer = await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)  # type: ignore[attr-defined]
    return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)


@pytest.mark.parametrize("env", [{}, TRACING], ids=["default", "grpc-trace"])
async def test_nothing_a_client_sends_reaches_any_log_line_raw(
    start_router: StartRouter, env: dict[str, str]
) -> None:
    router = start_router(env)
    ended: Counter[str] = Counter()
    for path in (CHECK, TRANSFORM):
        ended += raw_calls(router.address, path, NASTY_HEADERS)
        ended += raw_calls(router.address, path, [(b"grpc-timeout", b"9S " + KEY_SHAPED)])  # the core refuses
    assert sum(ended.values()) == 4, ended
    assert await _serving(router.address)
    stderr = router.stop()

    text = stderr.decode("utf-8")  # strict: a raw byte that is not UTF-8 fails here
    assert "CANARY" not in text, "a secret reached the log"
    assert not set(text) & {"\x00", "\x01", "\x1b", "\x7f", "\r", "\u202e"}, "an unprintable character"
    assert not ABSL_LINE.search(stderr), "a line of gRPC's C core skipped redaction"
    if not env:  # traced, the core prints the line break in the value itself: the relay sees two lines
        assert not re.search(r"^2026-01-01 00:00:00,000 INFO forged", text, re.MULTILINE)
    # The layers did write, cleaned: gRPC's Python logger (and, traced, the C core) saw the bad value.
    assert "ERROR grpc._cython.cygrpc: Invalid encoding on b'abc\\xff\\xfe\\x80 [REDACTED]'" in text
    if env:
        assert "grpc.core: hpack_parser.cc:" in text
        assert "x-weird: abc\\xff\\xfe\\x80 [REDACTED]" in text
        assert "x-control: a\\x01\\x1b[2Jb\\x7f" in text
        assert "authorization: [REDACTED]" in text
        assert "x-vendor-key: [REDACTED]" in text


async def test_a_flood_of_bad_requests_adds_a_bounded_log(
    start_router: StartRouter, figures: dict[str, object]
) -> None:
    router = start_router({})
    started = time.monotonic()
    ended = raw_calls(router.address, CHECK, [(b"x-weird", b"\xff\xfe")], count=700)  # gRPC's Python logger
    ended += raw_calls(router.address, TRANSFORM, [(b"grpc-timeout", b"bad")], count=700)  # gRPC's C core
    ended += raw_calls(router.address, TRANSFORM, message=b"\xff\xff\xff\xff", count=600)  # undecodable
    seconds = time.monotonic() - started
    assert sum(ended.values()) == 2000, ended
    assert await _serving(router.address)
    stderr = router.stop()
    figures["bad_request_flood_2000_in_s"] = round(seconds, 2)
    figures["bad_request_flood_2000_log_bytes"] = len(stderr)

    lines = stderr.decode("utf-8").splitlines()
    # Unlimited, these write a line or a traceback each: over 7,000 lines. Each kind gets 10 a window.
    assert len(lines) < 300, f"{len(lines)} lines, {len(stderr)} bytes"
    assert len(stderr) < 64 * 1024
    counted = [line for line in lines if "more like this were not logged" in line]
    assert any("grpc.core: " in line for line in counted), "the core's refusals are counted"
    assert any("grpc._cython.cygrpc: " in line for line in counted), "gRPC's Python errors are counted"
