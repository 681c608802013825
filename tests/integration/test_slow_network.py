"""A slow network: every hop reaches a peer whose connection handshake takes most of a second."""

from __future__ import annotations

import asyncio
from pathlib import Path

from grpc_health.v1 import health_pb2, health_pb2_grpc

from prizm_core.channels import insecure_channel
from prizm_core.client import PrizmClient
from tests.support.fault_proxy import FaultProxy
from tests.support.mesh import wait_routable
from tests.support.processes import ServerProcess, start_router, write_config

# Each piece of the handshake waits this long each way: TCP connects at once, then the HTTP/2
# preface and SETTINGS take several times this (gRPC once gave a connection 100 ms in all).
DELAY_S = 0.25


def _slow(address: str) -> FaultProxy:
    proxy = FaultProxy(address).start()
    proxy.set_mode("delay", delay_s=DELAY_S)
    return proxy


async def test_a_channel_reaches_a_peer_whose_handshake_is_slow(synthetic: ServerProcess) -> None:
    proxy = _slow(synthetic.address)
    try:
        async with insecure_channel(proxy.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            reply = await asyncio.wait_for(health.Check(health_pb2.HealthCheckRequest(), timeout=10), 15)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        proxy.close()


async def test_a_caller_reaches_a_provider_through_a_router_both_behind_a_slow_network(
    synthetic: ServerProcess, tmp_path: Path
) -> None:
    to_provider = _slow(synthetic.address)
    router = start_router(write_config(tmp_path / "router.yaml", [to_provider.address]))
    to_router = _slow(router.address)
    try:
        await wait_routable(router.address, 1)
        async with PrizmClient(to_router.address) as client:
            result = await client.run(
                "text-to-text", "far away", options={"events": 2, "output_bytes": 8}, timeout=30
            )
        assert result.outputs[0].data == b"far away"
    finally:
        to_router.close()
        router.stop()
        to_provider.close()
