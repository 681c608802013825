"""DNS discovery on a real router: addresses appear and vanish with DNS; a failed lookup keeps them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.config import DnsTarget
from prizm_core.router.core import Router, RouterSettings
from prizm_core.router.dns import DnsDiscovery, system_resolver
from tests.support.mesh import wait_until

DNS = router_pb.DISCOVERY_SOURCE_DNS
STATIC = router_pb.DISCOVERY_SOURCE_STATIC
TARGET = DnsTarget(name="providers.prizm.svc.cluster.local", port=50051, interval_s=0.01, priority=7)
# Loopback ports nothing listens on: the health watches fail fast and never connect.
A, B, C = "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"


class FakeResolver:
    """Answers with the addresses the test sets, or fails like a DNS outage."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = set(addresses)
        self.failing = False
        self.lookups: list[tuple[str, int]] = []
        self.looked_up = asyncio.Condition()

    async def __call__(self, name: str, port: int) -> set[str]:
        async with self.looked_up:
            self.lookups.append((name, port))
            self.looked_up.notify_all()
        if self.failing:
            raise OSError("Temporary failure in name resolution")
        return set(self.addresses)

    async def wait_for(self, lookups: int) -> None:
        """Until `lookups` lookups have begun: every one before the last has been applied."""
        async with asyncio.timeout(5), self.looked_up:
            await self.looked_up.wait_for(lambda: len(self.lookups) >= lookups)


@pytest.fixture
async def router() -> AsyncIterator[Router]:
    """A router whose health watches and channels are closed after the test."""
    made = Router(RouterSettings())
    yield made
    await made.close()


def _endpoints(router: Router) -> dict[str, tuple[int, int]]:
    """The endpoints taking jobs: draining ones are leaving."""
    return {e.address: (e.source, e.priority) for e in router.registry if not e.draining}


async def _removed(router: Router, address: str) -> None:
    """Waits until the endpoint at `address`, idle, has drained and is gone."""

    async def gone() -> bool:
        return router.registry.get(address) is None

    await wait_until(gone, timeout=5, interval=0.001)


async def test_new_addresses_become_dns_endpoints_with_the_targets_priority(router: Router) -> None:
    resolver = FakeResolver(A, B)
    discovery = DnsDiscovery(router, TARGET, resolver)
    await discovery.refresh()
    assert resolver.lookups == [("providers.prizm.svc.cluster.local", 50051)]
    assert _endpoints(router) == {A: (DNS, 7), B: (DNS, 7)}
    assert discovery.current == {A, B}
    listed = {e.address: e for e in router.endpoints()}
    assert set(listed) == {A, B}
    assert listed[A].source == DNS


async def test_vanished_addresses_are_removed_and_the_rest_kept(router: Router) -> None:
    resolver = FakeResolver(A, B)
    discovery = DnsDiscovery(router, TARGET, resolver)
    await discovery.refresh()
    kept = router.registry.get(B)
    resolver.addresses = {B, C}
    await discovery.refresh()
    assert _endpoints(router) == {B: (DNS, 7), C: (DNS, 7)}
    assert router.registry.get(B) is kept  # not re-added: its health history stays
    gone = router.registry.get(A)
    assert gone is not None and gone.state == router_pb.ENDPOINT_STATE_DRAINING
    await _removed(router, A)
    resolver.addresses = set()
    await discovery.refresh()
    assert _endpoints(router) == {}


async def test_a_failed_lookup_keeps_the_current_endpoints(router: Router) -> None:
    resolver = FakeResolver(A, B)
    discovery = DnsDiscovery(router, TARGET, resolver)
    await discovery.refresh()
    resolver.failing = True
    await discovery.refresh()
    await discovery.refresh()
    assert len(resolver.lookups) == 3
    assert _endpoints(router) == {A: (DNS, 7), B: (DNS, 7)}
    assert discovery.current == {A, B}
    # When DNS answers again, the change is made against what was kept.
    resolver.failing = False
    resolver.addresses = {A}
    await discovery.refresh()
    assert _endpoints(router) == {A: (DNS, 7)}


async def test_dns_leaves_other_endpoints_alone(router: Router) -> None:
    router.add_endpoint(C, STATIC, priority=1)
    resolver = FakeResolver(A)
    discovery = DnsDiscovery(router, TARGET, resolver)
    await discovery.refresh()
    resolver.addresses = set()
    await discovery.refresh()
    assert _endpoints(router) == {C: (STATIC, 1)}


async def test_run_refreshes_every_interval_until_cancelled(router: Router) -> None:
    resolver = FakeResolver(A)
    discovery = DnsDiscovery(router, TARGET, resolver)
    task = asyncio.create_task(discovery.run())
    try:
        await resolver.wait_for(2)
        assert _endpoints(router) == {A: (DNS, 7)}
        resolver.addresses = {B}
        await resolver.wait_for(len(resolver.lookups) + 2)
        assert _endpoints(router) == {B: (DNS, 7)}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
    seen = len(resolver.lookups)
    await asyncio.sleep(0.05)
    assert len(resolver.lookups) == seen


async def test_system_resolver_gives_host_and_port() -> None:
    found = await system_resolver("localhost", 50051)
    assert "127.0.0.1:50051" in found
    assert all(address.endswith(":50051") for address in found)


async def test_system_resolver_brackets_ipv6() -> None:
    assert await system_resolver("::1", 8080) == {"[::1]:8080"}
    assert await system_resolver("127.0.0.1", 8080) == {"127.0.0.1:8080"}


async def test_dns_never_removes_an_endpoint_another_source_added(router: Router) -> None:
    router.add_endpoint(A, STATIC, 1)
    resolver = FakeResolver(A, B)
    discovery = DnsDiscovery(router, TARGET, resolver)
    await discovery.refresh()
    assert _endpoints(router) == {A: (STATIC, 1), B: (DNS, 7)}
    resolver.addresses.clear()
    await discovery.refresh()
    assert _endpoints(router) == {A: (STATIC, 1)}
