"""Self-registration: a provider keeps its lease with a router alive while it runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import grpc
from prizm.v1 import router_service_pb2 as router_pb
from prizm.v1 import router_service_pb2_grpc as router_grpc

from prizm_core.channels import insecure_channel
from provider_servers.sdk.convert import duration_proto

__all__ = ["keep_registered"]

log = logging.getLogger(__name__)

_RETRY_S = 1.0
_CALL_TIMEOUT_S = 5.0


async def keep_registered(router: str, address: str, lease_s: float) -> None:
    """Registers `address` with `router` and renews at a third of the granted lease, until cancelled.

    On cancel it deregisters (best effort), so the router stops routing at once.
    """
    async with insecure_channel(router) as channel:
        stub = router_grpc.RouterServiceStub(channel)
        request = router_pb.RegisterProviderRequest(address=address, lease=duration_proto(lease_s))
        registered = False
        try:
            while True:
                try:
                    answer = await stub.RegisterProvider(request, timeout=_CALL_TIMEOUT_S)
                except grpc.aio.AioRpcError as exc:
                    log.warning("cannot register with router %s: %s; retrying", router, exc.code().name)
                    await asyncio.sleep(_RETRY_S)
                    continue
                if not registered:
                    log.info("registered %s with router %s", address, router)
                registered = True
                await asyncio.sleep(answer.lease.ToTimedelta().total_seconds() / 3)
        finally:
            if registered:
                with contextlib.suppress(grpc.aio.AioRpcError):
                    await stub.DeregisterProvider(
                        router_pb.DeregisterProviderRequest(address=address), timeout=_CALL_TIMEOUT_S
                    )
