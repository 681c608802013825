"""Routing policies on live providers: priority, cheapest within a max cost, least-loaded, replicas shared."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.client import PrizmClient
from prizm_core.errors import PrizmError
from tests.support.control import configure, status
from tests.support.mesh import wait_routable
from tests.support.processes import ServerProcess, start_provider, start_router

pytestmark = pytest.mark.faults

QUICK = {"events": 1}


async def _finished(providers: list[ServerProcess]) -> list[int]:
    return [int((await status(p.address)).finished_jobs) for p in providers]


def _config(path: Path, entries: list[tuple[str, int]]) -> Path:
    lines = [f"  - {{address: '{address}', priority: {priority}}}" for address, priority in entries]
    path.write_text("providers:\n" + "\n".join(lines) + "\n")
    return path


async def test_cheapest_picks_the_lowest_estimate_and_honours_max_cost(tmp_path: Path) -> None:
    dear = start_provider("synthetic", env={"PRIZM_SYNTHETIC_ID": "dear"})
    cheap = start_provider("synthetic", env={"PRIZM_SYNTHETIC_ID": "cheap"})
    router = start_router(_config(tmp_path / "router.yaml", [(dear.address, 10), (cheap.address, 0)]))
    try:
        await wait_routable(router.address, 2)
        await configure(dear.address, price_per_request="0.02")
        await configure(cheap.address, price_per_request="0.01")
        cheapest = router_pb.RoutingHints(policy=router_pb.ROUTING_POLICY_CHEAPEST)
        async with PrizmClient(router.address) as client:
            for _ in range(3):
                await client.run("text-to-text", "x", options=QUICK, routing=cheapest, timeout=10)
            assert await _finished([dear, cheap]) == [0, 3]
            # Priority prefers the dear one, unless the caller's max cost rules it out.
            await client.run("text-to-text", "x", options=QUICK, timeout=10)
            assert await _finished([dear, cheap]) == [1, 3]
            ceiling = router_pb.RoutingHints(max_cost=media_pb.Cost(currency="USD", amount=0.015))
            result = await client.run("text-to-text", "x", options=QUICK, routing=ceiling, timeout=10)
            assert await _finished([dear, cheap]) == [1, 4]
            assert result.cost.amount == pytest.approx(0.01)
            too_low = router_pb.RoutingHints(max_cost=media_pb.Cost(currency="USD", amount=0.001))
            with pytest.raises(PrizmError) as failure:
                await client.run("text-to-text", "x", options=QUICK, routing=too_low, timeout=10)
        assert (failure.value.code, failure.value.reason) == (
            grpc.StatusCode.FAILED_PRECONDITION,
            "MAX_COST_EXCEEDED",
        )
    finally:
        for server in (router, dear, cheap):
            server.stop()


async def test_least_loaded_sends_new_work_to_the_idle_replica(tmp_path: Path) -> None:
    busy, idle = start_provider("synthetic"), start_provider("synthetic")
    router = start_router(_config(tmp_path / "router.yaml", [(busy.address, 10), (idle.address, 0)]))
    try:
        await wait_routable(router.address, 2)
        async with PrizmClient(router.address) as client:
            # Priority sends these three long jobs to `busy`.
            long = [
                asyncio.create_task(
                    client.run("text-to-text", "long", options={"events": 20, "interval_ms": 100}, timeout=30)
                )
                for _ in range(3)
            ]
            await asyncio.sleep(0.5)
            assert (await status(busy.address)).active_jobs == 3
            least = router_pb.RoutingHints(policy=router_pb.ROUTING_POLICY_LEAST_LOADED)
            for _ in range(5):
                await client.run("text-to-text", "x", options=QUICK, routing=least, timeout=10)
            assert (await status(idle.address)).finished_jobs == 5
            await asyncio.gather(*long)
    finally:
        for server in (router, busy, idle):
            server.stop()


async def test_replicas_of_one_provider_share_the_load(tmp_path: Path, figures: dict[str, object]) -> None:
    replicas = [start_provider("synthetic") for _ in range(2)]
    router = start_router(_config(tmp_path / "router.yaml", [(r.address, 0) for r in replicas]))
    try:
        await wait_routable(router.address, 2)
        async with PrizmClient(router.address) as client:
            await asyncio.gather(
                *(
                    client.run("text-to-text", "x", options={"events": 2, "interval_ms": 50}, timeout=10)
                    for _ in range(40)
                )
            )
        shares = await _finished(replicas)
        figures["replica_split_of_40"] = shares
        assert sum(shares) == 40 and min(shares) >= 12
    finally:
        for server in (router, *replicas):
            server.stop()
