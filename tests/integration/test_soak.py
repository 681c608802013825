"""R19: ten thousand streams through one router, a fifth cancelled and a tenth failing, with its
memory, threads and sockets flat after warm-up and nothing left in flight."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from pathlib import Path

import pytest
from prizm.v1 import router_service_pb2 as router_pb

from benchmarks.processes import rss_kib
from prizm_core.client import PrizmClient
from prizm_core.client.events import Completion, OutputChunk
from prizm_core.errors import PrizmError
from provider_servers.synthetic.provider import synthetic_output
from tests.support.control import configure
from tests.support.mesh import client_of, settled
from tests.support.processes import start_provider, start_router, write_config

pytestmark = pytest.mark.faults

STREAMS = 10_000
ROUNDS = 10  # the first is the warm-up
CONCURRENCY = 64
OPTIONS = {"events": 3, "output_bytes": 2048}


def _threads_and_sockets(pid: int) -> tuple[int, int]:
    """The process's thread count and open sockets, from /proc."""
    threads = int(next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                       if line.startswith("Threads:")).split()[1])  # fmt: skip
    sockets = sum(1 for fd in Path(f"/proc/{pid}/fd").iterdir() if os.readlink(fd).startswith("socket:"))
    return threads, sockets


async def _one(client: PrizmClient, fate: str, seed: bytes) -> str:
    """One stream: read to the end, cancelled after its first event, or sent to the failing provider."""
    routing = router_pb.RoutingHints(provider="faulty" if fate == "fail" else "synthetic")
    data = b""
    try:
        async for event in client.stream(
            "text-to-text", seed.decode(), options=OPTIONS, routing=routing, timeout=30
        ):
            if fate == "cancel":
                return "cancelled"
            if isinstance(event, OutputChunk):
                data += event.data
            if isinstance(event, Completion):
                assert data == synthetic_output(seed, OPTIONS["output_bytes"])
                return "completed"
    except PrizmError as error:
        return f"{error.code.name} {error.reason}"
    return "ended without completion"


async def test_ten_thousand_streams_leave_the_router_as_they_found_it(
    tmp_config: Path, figures: dict[str, object]
) -> None:
    good = start_provider("synthetic")
    faulty = start_provider("synthetic", env={"PRIZM_SYNTHETIC_ID": "faulty"})
    router = start_router(write_config(tmp_config, [good.address, faulty.address]))
    try:
        await configure(faulty.address, fail_with="the soak's planned failure")
        # Every tenth stream fails, two in ten are cancelled, the rest run to the end.
        fates = [{3: "cancel", 5: "fail", 8: "cancel"}.get(i % 10, "ok") for i in range(STREAMS)]
        outcomes: Counter[tuple[str, str]] = Counter()
        samples = []
        async with client_of(router.address, 2) as client:
            slots = asyncio.Semaphore(CONCURRENCY)

            async def one(index: int) -> None:
                async with slots:
                    outcome = await _one(client, fates[index], f"soak {index}".encode())
                outcomes[fates[index], outcome] += 1

            per_round = STREAMS // ROUNDS
            for start in range(0, STREAMS, per_round):
                await asyncio.gather(*(one(i) for i in range(start, start + per_round)))
                samples.append((rss_kib(router.pid), *_threads_and_sockets(router.pid)))
            # The last cancelled jobs end at the router and providers a moment after their callers left.
            await settled(client, good.address, faulty.address)
        assert outcomes == {
            ("ok", "completed"): fates.count("ok"),
            ("cancel", "cancelled"): fates.count("cancel"),
            ("fail", "INTERNAL INTERNAL_ERROR"): fates.count("fail"),
        }
        # Memory after warm-up: the least-squares slope over the rounds, per 1,000 streams.
        after = [(round_ * per_round / 1000, sample[0]) for round_, sample in enumerate(samples[1:])]
        mean_x = sum(x for x, _ in after) / len(after)
        mean_y = sum(y for _, y in after) / len(after)
        slope = sum((x - mean_x) * (y - mean_y) for x, y in after) / sum((x - mean_x) ** 2 for x, _ in after)
        figures["soak_rss_kib_per_1000_streams"] = round(slope)
        figures["soak_rss_growth_mib"] = round((max(y for _, y in after) - samples[0][0]) / 1024, 1)
        # Measured here: about 100 KiB per 1,000 streams (RSS noise), and 800 when cancelled reads
        # leaked gRPC's native buffers (grpc/grpc#43360, before prizm_core.streams).
        assert slope < 400, samples
        # gRPC starts and stops a few threads of its own as load comes and goes; a leak would be
        # one per stream.
        _, threads, sockets = samples[0]
        assert max(s[1] for s in samples) <= threads + 4, samples
        assert max(s[2] for s in samples) <= sockets + 2, samples
    finally:
        for server in (router, good, faulty):
            server.stop()
