"""An endpoint that leaves the mesh with jobs in flight: no new jobs at once, its jobs drain, no caller waits.

RELIABILITY R22: deregistration, lease expiry and a name gone from DNS drain the
endpoint; jobs still running when `drain_s` ends are cut off with PROVIDER_CRASHED
at once, never left to their deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from prizm.v1 import router_service_pb2 as router_pb
from prizm.v1 import router_service_pb2_grpc as router_grpc

from prizm_core.channels import insecure_channel
from prizm_core.client import JobResult, PrizmClient
from prizm_core.errors import PrizmError
from provider_servers.synthetic.provider import synthetic_output
from tests.support.mesh import wait_routable, wait_until
from tests.support.processes import start_provider, start_router, start_server, write_config

pytestmark = pytest.mark.faults

# Ten events 0.2 s apart: a job that is surely in flight when the endpoint leaves.
LONG = {"events": 10, "interval_ms": 200}


async def _register(router: str, address: str, lease_s: float = 30.0) -> None:
    async with insecure_channel(router) as channel:
        request = router_pb.RegisterProviderRequest(address=address)
        request.lease.FromNanoseconds(int(lease_s * 1e9))
        await router_grpc.RouterServiceStub(channel).RegisterProvider(request, timeout=5)


async def _deregister(router: str, address: str) -> None:
    async with insecure_channel(router) as channel:
        request = router_pb.DeregisterProviderRequest(address=address)
        await router_grpc.RouterServiceStub(channel).DeregisterProvider(request, timeout=5)


async def _state(client: PrizmClient, address: str) -> int | None:
    return next((e.state for e in await client.list_providers() if e.address == address), None)


async def _long_jobs(client: PrizmClient, count: int) -> list[asyncio.Task[JobResult]]:
    jobs = [
        asyncio.create_task(client.run("text-to-text", f"job {n}", options=LONG, timeout=30))
        for n in range(count)
    ]
    await asyncio.sleep(0.5)  # each has had its first events
    return jobs


async def _drains_then_leaves(client: PrizmClient, address: str, jobs: list[asyncio.Task[JobResult]]) -> None:
    """The endpoint at `address` takes no new job, finishes `jobs`, then is gone."""
    assert await _state(client, address) == router_pb.ENDPOINT_STATE_DRAINING
    with pytest.raises(PrizmError) as refused:
        await client.run("text-to-text", "new", options={"events": 1}, timeout=5)
    assert (refused.value.code, refused.value.reason) == (grpc.StatusCode.UNAVAILABLE, "NO_HEALTHY_PROVIDER")
    results = await asyncio.gather(*jobs)
    assert [r.outputs[0].data for r in results] == [
        synthetic_output(f"job {n}".encode(), 1024) for n in range(len(jobs))
    ]

    async def gone() -> bool:
        return await _state(client, address) is None

    await wait_until(gone, timeout=5)


@contextlib.asynccontextmanager
async def _registered(
    config: Path | None = None, lease_s: float = 30.0
) -> AsyncIterator[tuple[str, str, PrizmClient]]:
    """A router with one synthetic provider registered by hand: router and provider address, a client."""
    router = start_router(config)
    provider = start_provider("synthetic")
    try:
        await _register(router.address, provider.address, lease_s)
        async with PrizmClient(router.address, max_attempts=1) as client:
            await wait_routable(router.address, 1)
            yield router.address, provider.address, client
    finally:
        for server in (router, provider):
            server.stop()


async def test_a_deregistered_endpoint_finishes_its_jobs_and_takes_no_new_ones() -> None:
    async with _registered() as (router, provider, client):
        jobs = await _long_jobs(client, 3)
        await _deregister(router, provider)
        await _drains_then_leaves(client, provider, jobs)


async def test_an_endpoint_whose_lease_runs_out_finishes_its_jobs() -> None:
    async with _registered(lease_s=1.0) as (_, provider, client):
        jobs = await _long_jobs(client, 2)

        async def draining() -> bool:
            return await _state(client, provider) == router_pb.ENDPOINT_STATE_DRAINING

        await wait_until(draining, timeout=3)
        await _drains_then_leaves(client, provider, jobs)


async def test_an_address_gone_from_dns_finishes_its_jobs(tmp_path: Path) -> None:
    provider = start_provider("synthetic")
    answers = tmp_path / "answers"
    answers.write_text(provider.address, encoding="utf-8")
    config = write_config(
        tmp_path / "router.yaml", [], dns=[{"name": "synthetic.prizm.test", "port": 1, "interval_s": 0.1}]
    )
    router = start_server([sys.executable, "-m", "tests.support.dns_router", str(config), str(answers)])
    try:
        async with PrizmClient(router.address, max_attempts=1) as client:
            await wait_routable(router.address, 1)
            jobs = await _long_jobs(client, 2)
            answers.write_text("", encoding="utf-8")

            async def draining() -> bool:
                return await _state(client, provider.address) == router_pb.ENDPOINT_STATE_DRAINING

            await wait_until(draining, timeout=3)
            await _drains_then_leaves(client, provider.address, jobs)
    finally:
        for server in (router, provider):
            server.stop()


async def test_jobs_left_when_the_drain_ends_get_provider_crashed_at_once(
    tmp_config: Path, figures: dict[str, object]
) -> None:
    async with _registered(write_config(tmp_config, [], drain_s=0.5)) as (router, provider, client):
        jobs = await _long_jobs(client, 2)
        await _deregister(router, provider)
        left = time.monotonic()
        outcomes = await asyncio.gather(*jobs, return_exceptions=True)
        waited = time.monotonic() - left
    assert all(isinstance(o, PrizmError) for o in outcomes), outcomes
    assert {(o.code, o.reason) for o in outcomes if isinstance(o, PrizmError)} == {
        (grpc.StatusCode.UNAVAILABLE, "PROVIDER_CRASHED")
    }
    assert all(o.metadata["job_id"] for o in outcomes if isinstance(o, PrizmError))
    figures["drain_cut_off_caller_waits_ms"] = round((waited - 0.5) * 1000, 1)
    assert waited < 0.5 + 1.0, f"callers waited {waited:.2f} s for a drain of 0.5 s"


async def test_an_endpoint_back_while_draining_is_taken_back() -> None:
    async with _registered() as (router, provider, client):
        jobs = await _long_jobs(client, 1)
        await _deregister(router, provider)
        assert await _state(client, provider) == router_pb.ENDPOINT_STATE_DRAINING
        await _register(router, provider)
        await wait_routable(router, 1)
        again = await client.run("text-to-text", "again", options={"events": 1}, timeout=10)
        assert again.outputs[0].data == synthetic_output(b"again", 1024)
        assert (await jobs[0]).outputs[0].data == synthetic_output(b"job 0", 1024)
        assert await _state(client, provider) == router_pb.ENDPOINT_STATE_SERVING
