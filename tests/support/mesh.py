"""Waiting on a mesh from tests: endpoints serving, conditions met, words recognised."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.client import PrizmClient
from provider_servers.contract.polling import wait_until
from provider_servers.contract.speech import recognised_words
from tests.support.control import status

__all__ = ["client_of", "recognised_words", "settled", "wait_routable", "wait_until"]


async def wait_routable(router: str, count: int, timeout: float = 60.0) -> list[router_pb.ProviderEndpoint]:
    """Waits until the router shows `count` endpoints SERVING; returns them."""
    async with PrizmClient(router) as client:
        serving: list[router_pb.ProviderEndpoint] = []

        async def ready() -> bool:
            nonlocal serving
            endpoints = await client.list_providers()
            serving = [e for e in endpoints if e.state == router_pb.ENDPOINT_STATE_SERVING]
            return len(serving) >= count

        await wait_until(ready, timeout, interval=0.05)
        return serving


@contextlib.asynccontextmanager
async def client_of(router: str, providers: int) -> AsyncIterator[PrizmClient]:
    """A client of `router` once `providers` endpoints are routable there."""
    await wait_routable(router, providers)
    async with PrizmClient(router) as client:
        yield client


async def settled(client: PrizmClient, *providers: str, timeout: float = 5.0) -> None:
    """Waits until nothing is in flight at the router nor active at `providers` (addresses).

    A caller that cancels returns at once; the router and the provider learn of it a moment later.
    """
    seen: list[tuple[str, int]] = []

    async def idle() -> bool:
        seen[:] = [(e.address, e.in_flight) for e in await client.list_providers()]
        seen.extend([(address, (await status(address)).active_jobs) for address in providers])
        return not any(count for _, count in seen)

    try:
        await wait_until(idle, timeout, interval=0.05)
    except AssertionError:
        raise AssertionError(f"still in flight after {timeout} s (address, jobs): {seen}") from None
