"""Sends mutated requests to one server's RPCs, many in flight at once, each with a deadline, and
tallies how every call ended: status codes, latency, calls past the deadline, and the findings
(UNKNOWN, INTERNAL, hangs) with what it takes to reproduce them."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from tests.fuzz.metadata import RAW_HEADERS, Metadata, metadata_mutation
from tests.fuzz.mutate import Mutated, Mutator
from tests.fuzz.seeds import ENDLESS, Method, sane
from tests.support.h2status import MAX_BODY_BYTES, raw_call

__all__ = [
    "BAD_CODES",
    "STATUS_LOST",
    "Case",
    "Finding",
    "Tally",
    "cases",
    "fuzz_method",
    "fuzz_raw_headers",
    "is_bad",
]

DEADLINE_S = 5.0
# A call still going this long after its deadline has hung, whatever the client library says.
HANG_GRACE_S = 2.0
IN_FLIGHT = 48
METADATA_SHARE = 0.05  # calls that also get mutated metadata
BAD_CODES = frozenset({"UNKNOWN", "INTERNAL"})
CLIENT_INTERNAL = "Internal error from Core"
# The server's answer (its message and details echoing a long request field) was over the client's
# 16 KiB limit on received metadata: the client reports RESOURCE_EXHAUSTED, the real code is lost.
TRAILERS_TOO_LARGE = "received metadata size exceeds hard limit"
STATUS_LOST = "STATUS_LOST(trailers over the client's limit)"
SERVER_METADATA_LIMIT = 64 * 1024  # gRPC's own limit on request metadata in a Prizm server
_KEPT = 50  # findings kept per method: enough to reduce, not so many that a flood of them eats memory
_CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 32 * 1024 * 1024)]


@dataclass(frozen=True)
class Case:
    """One call to make: the request messages, their metadata, and how they were made."""

    index: int
    messages: tuple[bytes, ...]
    mutation: str
    metadata: Metadata = ()
    metadata_mutation: str = ""


@dataclass(frozen=True)
class Finding:
    """A call that ended badly, with what reproduces it."""

    target: str
    method: str
    case: int
    mutation: str
    metadata_mutation: str
    code: str
    details: str
    latency_s: float
    request_hex: tuple[str, ...]

    def describe(self) -> str:
        """One paragraph for a test failure."""
        snippet = ", ".join(
            f"{h[:160]}{'…' if len(h) > 160 else ''} ({len(h) // 2} B)" for h in self.request_hex
        )
        return (
            f"{self.target} {self.method} case {self.case}: {self.code} after {self.latency_s:.2f} s; "
            f"mutation {self.mutation} metadata {self.metadata_mutation or '-'}; "
            f"details {self.details[:200]!r}; request [{snippet}]"
        )


@dataclass
class Tally:
    """How the calls to one method ended."""

    calls: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    max_latency_s: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    slow: list[Finding] = field(default_factory=list)

    def add(self, finding: Finding, bad: bool) -> None:
        self.calls += 1
        self.codes[finding.code] += 1
        self.max_latency_s = max(self.max_latency_s, finding.latency_s)
        if bad and len(self.findings) < _KEPT:
            self.findings.append(finding)
        if finding.latency_s > DEADLINE_S + 0.5 and len(self.slow) < _KEPT:
            self.slow.append(finding)


def cases(method: Method, count: int, seed: int, pool: Sequence[bytes]) -> Iterator[Case]:
    """`count` cases for `method`, the same ones for the same `seed`; a few are its seeds as they are."""
    rng = random.Random(f"{seed}:{method.full_name}")  # noqa: S311 - reproducible on purpose
    mutator = Mutator(method.request, pool)
    for index in range(count):
        seed_messages = method.seeds[index % len(method.seeds)]
        if index < len(method.seeds):
            mutated = Mutated(seed_messages, "seed")
        else:
            mutated = _mutated(rng, mutator, method, seed_messages)
        metadata, metadata_name = metadata_mutation(rng) if rng.random() < METADATA_SHARE else ((), "")
        yield Case(index, mutated.messages, mutated.mutation, metadata, metadata_name)


def _mutated(rng: random.Random, mutator: Mutator, method: Method, seed: tuple[bytes, ...]) -> Mutated:
    for _ in range(10):
        if method.client_streaming:
            mutated = mutator.mutate_stream(rng, seed)
        else:
            raw, name = mutator.mutate(rng, seed[0])
            mutated = Mutated((raw,), name)
        if all(sane(method.request, raw) for raw in mutated.messages):
            return mutated
    return Mutated(seed, "seed")


async def _one(channel: grpc.aio.Channel, method: Method, case: Case) -> tuple[str, str]:
    """Makes the call; its final code name and details (`READ` for a stream the fuzzer ended)."""
    metadata = case.metadata or None
    # Raw bytes both ways (no serializers), which the stubs cannot type.
    request: Any = iter(case.messages) if method.client_streaming else case.messages[0]
    shapes: dict[tuple[bool, bool], Any] = {
        (False, False): channel.unary_unary,
        (True, False): channel.stream_unary,
        (False, True): channel.unary_stream,
        (True, True): channel.stream_stream,
    }
    multi = shapes[method.client_streaming, method.server_streaming](method.path)
    if not method.server_streaming:
        await multi(request, timeout=DEADLINE_S, metadata=metadata)
        return "OK", ""
    stream = multi(request, timeout=DEADLINE_S, metadata=metadata)
    read = 0
    async for _ in stream:
        read += 1
        if read >= method.read_at_most:
            stream.cancel()
            return "READ", f"{read} messages"
    return "OK", f"{read} messages"


async def _timed(channel: grpc.aio.Channel, method: Method, case: Case) -> tuple[str, str, float]:
    started = time.monotonic()
    try:
        code, details = await asyncio.wait_for(_one(channel, method, case), DEADLINE_S + HANG_GRACE_S)
    except grpc.aio.AioRpcError as error:
        code, details = error.code().name, error.details() or ""
        # The client dropped the server's status: see STATUS_LOST. The server's own refusal of
        # request metadata over its 64 KiB reads the same, with its limit: that one is an answer.
        if TRAILERS_TOO_LARGE in details and f"vs. {SERVER_METADATA_LIMIT})" not in details:
            code = STATUS_LOST
    except TimeoutError:
        code, details = "HANG", f"no status {HANG_GRACE_S} s past the deadline"
    except Exception as error:  # the client library refused what the fuzzer made: not the server's doing
        code, details = f"CLIENT_{type(error).__name__}", str(error)
    return code, details, time.monotonic() - started


async def _server_status(address: str, method: Method, case: Case) -> tuple[str, str]:
    """The status the server itself sent for `case`, replayed over a bare HTTP/2 connection.

    grpc.aio's client reports INTERNAL "Internal error from Core" for a client stream whose next
    write fails because the server has already answered: the server's own status is lost. The
    replay sends every message at once and reads `grpc-status` from the trailers.
    """
    if sum(len(m) + 5 for m in case.messages) > MAX_BODY_BYTES or case.metadata:
        return "UNVERIFIED", ""
    endless = method.full_name in ENDLESS
    return await asyncio.to_thread(
        raw_call, address, method.path, (), case.messages, timeout_s=DEADLINE_S, endless=endless
    )


async def fuzz_method(
    target: str, address: str, method: Method, pending: Iterator[Case], tally: Tally | None = None
) -> Tally:
    """The calls of `pending` to `method` on `address`, `IN_FLIGHT` at a time, added to `tally`."""
    tally = tally if tally is not None else Tally()
    plain = grpc.aio.insecure_channel(address, options=_CHANNEL_OPTIONS)
    # Calls with mutated metadata get a connection of their own: whatever the server does to it
    # (GOAWAY, a reset) then says nothing about the other calls.
    odd = grpc.aio.insecure_channel(
        address, options=[*_CHANNEL_OPTIONS, ("grpc.use_local_subchannel_pool", 1)]
    )

    async def worker() -> None:
        for case in pending:
            code, details, latency = await _timed(odd if case.metadata else plain, method, case)
            if code == "INTERNAL" and details == CLIENT_INTERNAL and method.client_streaming:
                server_code, details = await _server_status(address, method, case)
                code = f"CLIENT_INTERNAL(server {server_code})"
            finding = Finding(
                target,
                method.full_name,
                case.index,
                case.mutation,
                case.metadata_mutation,
                code,
                details,
                latency,
                tuple(raw[:4096].hex() for raw in case.messages[:4]),
            )
            tally.add(finding, is_bad(code))

    try:
        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    finally:
        await plain.close()
        await odd.close()
    return tally


def is_bad(code: str) -> bool:
    """UNKNOWN or INTERNAL from the server (also as found by a replay), or a hang."""
    return code in BAD_CODES or code == "HANG" or any(f"server {bad}" in code for bad in (*BAD_CODES, "HANG"))


async def fuzz_raw_headers(target: str, address: str, method: Method) -> Tally:
    """Each of `RAW_HEADERS` once on `method`, over bare HTTP/2 connections, with its first seed."""
    tally = Tally()
    endless = method.full_name in ENDLESS
    messages = method.seeds[0]

    def timed(headers: tuple[tuple[bytes, bytes], ...]) -> tuple[str, str, float]:
        started = time.monotonic()  # in the thread: waiting for one is not the server's time
        code, details = raw_call(
            address, method.path, headers, messages, timeout_s=DEADLINE_S, endless=endless
        )
        return code, details, time.monotonic() - started

    async def one(name: str, headers: tuple[tuple[bytes, bytes], ...]) -> None:
        code, details, latency = await asyncio.to_thread(timed, headers)
        hexed = tuple(m.hex() for m in messages)
        tally.add(
            Finding(target, method.full_name, 0, "seed", f"raw:{name}", code, details, latency, hexed),
            is_bad(code),
        )

    await asyncio.gather(*(one(name, headers) for name, headers in RAW_HEADERS))
    return tally
