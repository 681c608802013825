"""Retiring endpoints: drained while their jobs run, then removed; taken back if found again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.router.core import Router, RouterSettings
from tests.support.mesh import wait_until

STATIC = router_pb.DISCOVERY_SOURCE_STATIC
# A loopback port nothing listens on: the health watch fails fast and never connects.
ADDRESS = "127.0.0.1:1"


@pytest.fixture
async def router() -> AsyncIterator[Router]:
    """A router draining for at most 0.3 s, closed after the test."""
    made = Router(RouterSettings(drain_s=0.3))
    yield made
    await made.close()


async def _gone(router: Router, address: str, within: float) -> None:
    async def gone() -> bool:
        return router.registry.get(address) is None

    await wait_until(gone, within, interval=0.005)


async def test_an_idle_endpoint_leaves_at_once(router: Router) -> None:
    router.add_endpoint(ADDRESS, STATIC)
    router.retire_endpoint(ADDRESS, "deregistered")
    await _gone(router, ADDRESS, within=0.1)


async def test_an_endpoint_with_a_job_in_flight_stays_until_it_ends(router: Router) -> None:
    endpoint = router.add_endpoint(ADDRESS, STATIC)
    endpoint.begin_call()
    router.retire_endpoint(ADDRESS, "deregistered")
    router.retire_endpoint(ADDRESS, "deregistered again")  # one drain, not two
    await asyncio.sleep(0.1)
    assert router.registry.get(ADDRESS) is endpoint
    assert endpoint.state == router_pb.ENDPOINT_STATE_DRAINING
    endpoint.end_call()
    await _gone(router, ADDRESS, within=0.1)


async def test_a_job_longer_than_the_drain_is_cut_off(router: Router) -> None:
    endpoint = router.add_endpoint(ADDRESS, STATIC)
    endpoint.begin_call()
    router.retire_endpoint(ADDRESS, "lease ran out")
    await _gone(router, ADDRESS, within=1.0)
    assert endpoint.in_flight == 1  # its relay learns of it from the closed channel


async def test_an_endpoint_added_again_while_draining_is_kept(router: Router) -> None:
    endpoint = router.add_endpoint(ADDRESS, STATIC)
    endpoint.begin_call()
    router.retire_endpoint(ADDRESS, "gone from DNS")
    again = router.add_endpoint(ADDRESS, STATIC)
    endpoint.end_call()
    await asyncio.sleep(0.5)  # longer than the drain would have been
    assert router.registry.get(ADDRESS) is again is endpoint
    assert again.state == router_pb.ENDPOINT_STATE_PENDING
