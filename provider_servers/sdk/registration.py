"""Self-registration: a provider keeps its lease with a router alive while it runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

import grpc
from prizm.v1 import router_service_pb2 as router_pb
from prizm.v1 import router_service_pb2_grpc as router_grpc

from prizm_core.channels import open_channel
from prizm_core.security.bearer import REGISTRATION_TOKEN_ENV
from prizm_core.security.tls import caller_tls
from provider_servers.sdk.convert import duration_proto

__all__ = ["REGISTRATION_TOKEN_ENV", "keep_registered"]

log = logging.getLogger(__name__)

_RETRY_S = 1.0
_CALL_TIMEOUT_S = 5.0


async def keep_registered(router: str, address: str, lease_s: float, token: str | None = None) -> None:
    """Registers `address` with `router` and renews at a third of the granted lease, until cancelled.

    On cancel it deregisters (best effort), so the router stops routing at once. A router that
    speaks TLS is dialled as any caller dials it: with `PRIZM_TLS_CA` (and `PRIZM_TLS_CERT`/`_KEY`).
    `token` (default: `$PRIZM_REGISTRATION_TOKEN`) goes as `authorization: Bearer <token>` when set.
    """
    token = os.environ.get(REGISTRATION_TOKEN_ENV, "") if token is None else token
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    async with open_channel(router, caller_tls(os.environ)) as channel:
        stub = router_grpc.RouterServiceStub(channel)
        request = router_pb.RegisterProviderRequest(address=address, lease=duration_proto(lease_s))
        registered = False
        try:
            while True:
                try:
                    answer = await stub.RegisterProvider(request, timeout=_CALL_TIMEOUT_S, metadata=metadata)
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
                        router_pb.DeregisterProviderRequest(address=address),
                        timeout=_CALL_TIMEOUT_S,
                        metadata=metadata,
                    )
