"""RegisterProvider and DeregisterProvider check their address alike and say plainly what is wrong."""

from __future__ import annotations

import grpc
import pytest
from prizm.v1 import router_service_pb2 as router_pb
from prizm.v1 import router_service_pb2_grpc as router_grpc

from prizm_core.channels import insecure_channel
from prizm_core.errors import PrizmError
from tests.support.processes import start_router


async def _refusal(router: str, method: str, address: str) -> PrizmError:
    async with insecure_channel(router) as channel:
        stub = router_grpc.RouterServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            if method == "register":
                await stub.RegisterProvider(router_pb.RegisterProviderRequest(address=address), timeout=5)
            else:
                await stub.DeregisterProvider(router_pb.DeregisterProviderRequest(address=address), timeout=5)
    return PrizmError.from_rpc_error(refused.value)


async def test_both_refuse_a_missing_or_malformed_address_the_same_way() -> None:
    router = start_router()
    try:
        for address, problem in (
            ("", "is required"),
            ("no-port", "not a host:port address"),
            ("h" * 300 + ":1", "longer than"),
        ):
            for method in ("register", "deregister"):
                error = await _refusal(router.address, method, address)
                assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_INPUT")
                ((field, text),) = error.field_violations
                assert field == "address" and problem in text, (method, address, text)
    finally:
        router.stop()


async def test_a_lease_of_any_length_is_granted_up_to_the_maximum() -> None:
    router = start_router()
    try:
        async with insecure_channel(router.address) as channel:
            request = router_pb.RegisterProviderRequest(address="127.0.0.1:9")
            request.lease.seconds = 2**62  # past what a timedelta can hold
            answer = await router_grpc.RouterServiceStub(channel).RegisterProvider(request, timeout=5)
        assert answer.lease.seconds == 300
    finally:
        router.stop()


async def test_deregistering_an_unknown_address_names_it() -> None:
    router = start_router()
    try:
        error = await _refusal(router.address, "deregister", "127.0.0.1:9")
        assert (error.code, error.reason) == (grpc.StatusCode.NOT_FOUND, "ENDPOINT_NOT_REGISTERED")
        assert error.message == "no provider is registered at 127.0.0.1:9"
    finally:
        router.stop()
