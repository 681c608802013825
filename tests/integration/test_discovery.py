"""Discovery sources combined in one router: static config, sidecars, self-registration and DNS."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.client import PrizmClient
from provider_servers.synthetic.provider import synthetic_output
from tests.support.mesh import wait_routable
from tests.support.processes import start_provider, start_router

pytestmark = pytest.mark.faults


async def test_every_discovery_source_feeds_one_router(tmp_path: Path) -> None:
    static, by_dns = start_provider("synthetic"), start_provider("synthetic")
    dns_port = int(by_dns.address.rsplit(":", 1)[1])
    config = tmp_path / "router.yaml"
    config.write_text(
        json.dumps(
            {
                "providers": [static.address],
                "sidecars": [{"provider": "synthetic"}],
                # `localhost` stands in for a headless Service's name; it is re-resolved every 0.5 s.
                "dns": [{"name": "localhost", "port": dns_port, "interval_s": 0.5}],
            }
        )
    )
    router = start_router(config)
    registered = start_provider("synthetic", "--register", router.address, "--lease", "5")
    try:
        serving = await wait_routable(router.address, 4)
        sources = {e.address: e.source for e in serving}
        assert sources[static.address] == router_pb.DISCOVERY_SOURCE_STATIC
        assert sources[f"127.0.0.1:{dns_port}"] == router_pb.DISCOVERY_SOURCE_DNS
        assert sources[registered.address] == router_pb.DISCOVERY_SOURCE_REGISTERED
        assert sorted(sources.values()).count(router_pb.DISCOVERY_SOURCE_SIDECAR) == 1
        async with PrizmClient(router.address) as client:
            results = [
                await client.run("text-to-text", "any", options={"events": 1}, timeout=10) for _ in range(8)
            ]
        assert all(r.outputs[0].data == synthetic_output(b"any", 1024) for r in results)
    finally:
        for server in (registered, router, static, by_dns):
            server.stop()


async def test_a_caller_may_wait_for_a_provider_within_its_deadline() -> None:
    router = start_router()
    provider = None
    try:
        async with PrizmClient(router.address) as client:
            await client.list_providers()
            waiting = router_pb.RoutingHints(wait_for_ready=True)
            job = asyncio.create_task(
                client.run("text-to-text", "patience", options={"events": 1}, routing=waiting, timeout=30)
            )
            await asyncio.sleep(0.5)
            assert not job.done(), "it waits instead of failing at once"
            provider = start_provider("synthetic", "--register", router.address)
            result = await job
        assert result.outputs[0].data == synthetic_output(b"patience", 1024)
    finally:
        for server in (provider, router):
            if server is not None:
                server.stop()
