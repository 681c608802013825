"""A fuzzing campaign against one server: every RPC it serves, in a warm-up round and a measured
round, with its resident memory and log size read around the measured round."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_reflection.v1alpha import reflection_pb2

from benchmarks.processes import rss_kib
from tests.fuzz.runner import Case, Finding, Tally, cases, fuzz_method
from tests.fuzz.seeds import Method
from tests.support.processes import ServerProcess

__all__ = ["Campaign", "log_bytes", "served_services", "start_service"]

# Passes over every method: the first warms the server up (its allocator grows to what the
# traffic needs), the second's lowest RSS is the baseline, the last's is compared with it.
PASSES = 5  # at least 3


def log_bytes(server: ServerProcess) -> int:
    """Bytes the server has written to stderr so far (its lines as captured, newlines included)."""
    return sum(len(line.encode()) + 1 for line in list(server.log))


async def served_services(address: str) -> set[str]:
    """The services a server lists through reflection."""
    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.stream_stream(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
        responses = [r async for r in call(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))]
    return {service.name for service in responses[0].list_services_response.service}


async def start_service(address: str) -> None:
    """StartService, undoing the fuzzed StopService calls (a router answers it too, changing nothing)."""
    async with grpc.aio.insecure_channel(address) as channel:
        start: Any = channel.unary_unary("/prizm.v1.ProviderService/StartService")
        await start(b"", timeout=5)


def _last_if_stop(method: Method) -> bool:
    # StopService turns a provider NOT_SERVING; fuzzing it last keeps the other RPCs' jobs real.
    return method.full_name.endswith("StopService")


@dataclass
class Campaign:
    """The calls made to one server, per method, and what they cost it."""

    target: str
    server: ServerProcess
    methods: Sequence[Method]
    tallies: dict[str, Tally] = field(default_factory=dict)
    rss_kib: tuple[int, int] = (0, 0)
    floors_kib: list[int] = field(default_factory=list)  # the lowest RSS of each pass
    log_bytes: tuple[int, int] = (0, 0)
    measured_calls: int = 0
    seconds: float = 0.0

    async def run(self, per_method: int, seed: int, pool: Sequence[bytes]) -> None:
        """`per_method` calls to each method, in `PASSES` passes over every method; the first warms
        the server up, the others are measured."""
        ordered = sorted(self.methods, key=_last_if_stop)
        pending = {m.full_name: cases(m, per_method, seed, pool) for m in ordered}
        self.tallies = {m.full_name: Tally() for m in ordered}
        share = -(-per_method // PASSES)
        started = time.monotonic()
        floors, logs = [], []
        for _ in range(PASSES):
            calls_before, logs_before = self.calls, log_bytes(self.server)
            samples = []
            for method in ordered:
                await self._fuzz(method, itertools.islice(pending[method.full_name], share))
                samples.append(rss_kib(self.server.pid))
            await start_service(self.server.address)
            floors.append((min(samples), calls_before))
            logs.append(logs_before)
        self.seconds = time.monotonic() - started
        # The lowest RSS of a pass is what it kept; its peaks are what was in flight.
        self.floors_kib = [floor for floor, _ in floors]
        self.rss_kib = (floors[1][0], floors[-1][0])
        self.measured_calls = self.calls - floors[2][1]
        self.log_bytes = (logs[1], log_bytes(self.server))

    async def _fuzz(self, method: Method, pending: Iterator[Case]) -> None:
        tally = self.tallies[method.full_name]
        await fuzz_method(self.target, self.server.address, method, pending, tally)

    @property
    def calls(self) -> int:
        """Calls made so far, every method together."""
        return sum(t.calls for t in self.tallies.values())

    def findings(self) -> list[Finding]:
        """UNKNOWN, INTERNAL and hung calls."""
        return [f for t in self.tallies.values() for f in t.findings]

    def slow(self) -> list[Finding]:
        """Calls that took longer than the deadline allows."""
        return [f for t in self.tallies.values() for f in t.slow]

    def codes(self) -> dict[str, dict[str, int]]:
        """How the calls ended, per method."""
        return {name: dict(sorted(t.codes.items())) for name, t in self.tallies.items()}

    @property
    def rss_growth_kib(self) -> int:
        """Resident memory gained over the measured round."""
        return self.rss_kib[1] - self.rss_kib[0]

    @property
    def log_growth_bytes(self) -> int:
        """Log written during the measured round."""
        return self.log_bytes[1] - self.log_bytes[0]
