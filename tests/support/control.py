"""Talking to providers and routers directly from tests: status, settings, service, registry changes."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from prizm.v1 import provider_service_pb2 as provider_pb
from prizm.v1 import provider_service_pb2_grpc as provider_grpc
from prizm.v1 import router_service_pb2 as router_pb
from prizm.v1 import router_service_pb2_grpc as router_grpc

from prizm_core.channels import insecure_channel

__all__ = ["ChangeLog", "configure", "service", "status"]


async def status(address: str) -> provider_pb.ServiceStatus:
    """A provider's service status (job counts included)."""
    async with insecure_channel(address) as channel:
        stub = provider_grpc.ProviderServiceStub(channel)
        return (await stub.GetServiceStatus(provider_pb.GetServiceStatusRequest(), timeout=5)).status


async def configure(address: str, **settings: str) -> None:
    """Applies runtime settings to a provider."""
    async with insecure_channel(address) as channel:
        stub = provider_grpc.ProviderServiceStub(channel)
        await stub.Configure(provider_pb.ConfigureRequest(settings=settings), timeout=30)


async def service(address: str, running: bool) -> None:
    """Starts or stops a provider's (managed) service."""
    async with insecure_channel(address) as channel:
        stub = provider_grpc.ProviderServiceStub(channel)
        if running:
            await stub.StartService(provider_pb.StartServiceRequest(), timeout=5)
        else:
            await stub.StopService(provider_pb.StopServiceRequest(), timeout=5)


@dataclass
class ChangeLog:
    """Every registry change a router streams, with the monotonic time it arrived."""

    router: str
    changes: list[tuple[float, str, int]] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ChangeLog:
        self._task = asyncio.create_task(self._follow())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _follow(self) -> None:
        async with insecure_channel(self.router) as channel:
            stub = router_grpc.RouterServiceStub(channel)
            call = stub.WatchProviders(router_pb.WatchProvidersRequest(), wait_for_ready=True)
            async for change in call:
                self.changes.append((time.monotonic(), change.endpoint.address, change.endpoint.state))
                self._arrived.set()

    def states(self, address: str, since: float = 0.0, until: float = float("inf")) -> list[int]:
        """The states `address` was reported in between `since` and `until`, in order."""
        return [state for at, where, state in self.changes if where == address and since <= at < until]

    async def wait_for(self, address: str, state: int, since: float, timeout: float) -> float:
        """The time `address` was first reported in `state` after `since`; fails after `timeout`."""
        end = time.monotonic() + timeout
        while True:
            for at, where, seen in self.changes:
                if where == address and seen == state and at >= since:
                    return at
            left = end - time.monotonic()
            if left <= 0:
                name = router_pb.EndpointState.Name(state)  # type: ignore[arg-type]
                raise AssertionError(f"{address} not {name} within {timeout} s: {self.changes}")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                continue
