"""S4: floods on one connection (a thousand streams, open-then-reset loops, pings) stay bounded,
the router stays SERVING and other callers go on as before."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from benchmarks.processes import rss_kib
from prizm_core.channels import insecure_channel
from prizm_core.client import PrizmClient
from prizm_core.errors import PrizmError
from tests.support.h2raw import ENHANCE_YOUR_CALM, RawConnection
from tests.support.mesh import client_of, settled
from tests.support.processes import ServerProcess, own_mesh

pytestmark = pytest.mark.faults

TRANSFORM = "/prizm.v1.RouterService/Transform"
SLOW = {"events": 2, "interval_ms": 500}  # a job of about a second


provider, router = own_mesh("floods")


@pytest.fixture
async def bystander(router: ServerProcess) -> AsyncIterator[PrizmClient]:
    """Another caller, on a connection of its own."""
    async with client_of(router.address, 1) as client:
        yield client


async def _serving(address: str) -> bool:
    async with insecure_channel(address) as channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)  # type: ignore[attr-defined]
    return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)


async def _bystander_job_s(client: PrizmClient) -> float:
    """How long a short job of the other caller takes, end to end."""
    started = time.monotonic()
    result = await client.run(
        "text-to-text", "still here", options={"events": 1, "output_bytes": 10}, timeout=5
    )
    assert result.outputs[0].data == b"still here"
    return time.monotonic() - started


async def test_a_thousand_streams_on_one_connection_are_bounded(
    router: ServerProcess, provider: ServerProcess, bystander: PrizmClient, figures: dict[str, object]
) -> None:
    outcomes: Counter[str] = Counter()
    refused_after: list[float] = []
    async with PrizmClient(router.address, caller="flood", max_attempts=1) as flood:

        async def one() -> None:
            started = time.monotonic()
            try:
                await flood.run("text-to-text", "flood", options=SLOW, timeout=30)
                outcomes["completed"] += 1
            except PrizmError as error:
                outcomes[f"{error.code.name} {error.reason}"] += 1
                refused_after.append(time.monotonic() - started)

        flood_task = asyncio.gather(*(one() for _ in range(1000)))
        await asyncio.sleep(0.3)
        during = await _bystander_job_s(bystander)
        assert await _serving(router.address)
        await flood_task
    # The router holds 100 jobs per caller; the rest are refused at once, not queued.
    assert outcomes == {"completed": 100, "RESOURCE_EXHAUSTED CALLER_CONCURRENCY_EXCEEDED": 900}, outcomes
    figures["flood_1000_streams_slowest_refusal_ms"] = round(max(refused_after) * 1000, 1)
    figures["flood_1000_streams_bystander_job_ms"] = round(during * 1000, 1)
    assert max(refused_after) < 2.0
    assert during < 1.0, "a caller on another connection is not held up by the flood"
    await settled(bystander, provider.address)


async def test_open_then_reset_loops_leave_nothing_behind(
    router: ServerProcess, provider: ServerProcess, bystander: PrizmClient, figures: dict[str, object]
) -> None:
    before_kib = rss_kib(router.pid)
    connection = RawConnection(router.address)
    started = time.monotonic()
    sent = await asyncio.to_thread(connection.open_and_reset, 10_000, TRANSFORM)
    during = await _bystander_job_s(bystander)
    assert await _serving(router.address)
    connection.close()
    figures["rapid_reset_pairs_sent_of_10000"] = sent
    figures["rapid_reset_goaway_code"] = connection.goaway_code
    figures["rapid_reset_seconds"] = round(time.monotonic() - started, 2)
    figures["rapid_reset_bystander_job_ms"] = round(during * 1000, 1)
    assert during < 1.0
    await settled(bystander, provider.address)
    growth_mib = (rss_kib(router.pid) - before_kib) / 1024
    figures["rapid_reset_router_growth_mib"] = round(growth_mib, 1)
    assert growth_mib < 32


async def test_a_ping_flood_is_cut_off(
    router: ServerProcess, bystander: PrizmClient, figures: dict[str, object]
) -> None:
    connection = RawConnection(router.address)
    started = time.monotonic()
    sent = await asyncio.to_thread(connection.ping_flood, 10_000)
    closed = await asyncio.to_thread(connection.closed.wait, 5)
    connection.close()
    assert closed, "the server closes a connection that floods it with pings"
    assert connection.goaway_code == ENHANCE_YOUR_CALM, connection.goaway_code
    figures["ping_flood_closed_after_s"] = round(time.monotonic() - started, 2)
    figures["ping_flood_pings_sent"] = sent
    assert await _serving(router.address)
    assert await _bystander_job_s(bystander) < 1.0
