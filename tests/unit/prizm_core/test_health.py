"""`grpc.health.v1.Health` on a real server: Check, List, Watch, and Watch streams that end on shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from prizm_core.channels import insecure_channel
from prizm_core.serving import GrpcServer, ServeSettings

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE_UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
# Every read is bounded: a Watch that never ends must fail the test, not hang it.
READ_TIMEOUT_S = 5.0


@pytest.fixture
async def server() -> AsyncIterator[GrpcServer]:
    """A started server for `x.Service` on a free loopback port, stopped after the test."""
    made = GrpcServer(ServeSettings(), ["x.Service"])
    await made.start()
    yield made
    await made.server.stop(0)


@pytest.fixture
async def health(server: GrpcServer) -> AsyncIterator[Any]:
    """A Health stub on a channel to the server."""
    async with insecure_channel(server.address) as channel:
        yield health_pb2_grpc.HealthStub(channel)


async def _check(health: Any, service: str) -> int:
    answer = await health.Check(health_pb2.HealthCheckRequest(service=service), timeout=READ_TIMEOUT_S)
    return int(answer.status)


async def _read(call: Any) -> Any:
    async with asyncio.timeout(READ_TIMEOUT_S):
        return await call.read()


async def test_check_is_not_serving_until_set_serving(server: GrpcServer, health: Any) -> None:
    assert await _check(health, "") == NOT_SERVING
    assert await _check(health, "x.Service") == NOT_SERVING
    await server.set_serving(True)
    assert await _check(health, "") == SERVING
    assert await _check(health, "x.Service") == SERVING
    await server.set_serving(False)
    assert await _check(health, "x.Service") == NOT_SERVING


async def test_check_of_an_unknown_service_is_not_found(health: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _check(health, "y.Other")
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert "y.Other" in (raised.value.details() or "")


async def test_list_gives_every_registered_service(server: GrpcServer, health: Any) -> None:
    await server.set_serving(True)
    await server.health.set("z.Extra", NOT_SERVING)
    answer = await health.List(health_pb2.HealthListRequest(), timeout=READ_TIMEOUT_S)  # type: ignore[attr-defined]
    statuses = {name: response.status for name, response in answer.statuses.items()}
    assert statuses == {"": SERVING, "x.Service": SERVING, "z.Extra": NOT_SERVING}


async def test_watch_streams_the_status_then_each_change(server: GrpcServer, health: Any) -> None:
    call = health.Watch(health_pb2.HealthCheckRequest(service="x.Service"))
    assert (await _read(call)).status == NOT_SERVING
    await server.set_serving(True)
    assert (await _read(call)).status == SERVING
    await server.set_serving(False)
    assert (await _read(call)).status == NOT_SERVING
    call.cancel()


async def test_watch_of_an_unknown_service_says_so_until_it_is_registered(
    server: GrpcServer, health: Any
) -> None:
    call = health.Watch(health_pb2.HealthCheckRequest(service="y.Other"))
    assert (await _read(call)).status == SERVICE_UNKNOWN
    await server.health.set("y.Other", SERVING)
    assert (await _read(call)).status == SERVING
    call.cancel()


async def test_shutdown_sends_not_serving_then_ends_every_watch(server: GrpcServer, health: Any) -> None:
    await server.set_serving(True)
    whole = health.Watch(health_pb2.HealthCheckRequest(service=""))
    named = health.Watch(health_pb2.HealthCheckRequest(service="x.Service"))
    assert (await _read(whole)).status == SERVING
    assert (await _read(named)).status == SERVING
    await server.health.shutdown()
    for call in (whole, named):
        assert (await _read(call)).status == NOT_SERVING
        assert await _read(call) is grpc.aio.EOF
        assert await call.code() == grpc.StatusCode.OK


async def test_after_shutdown_status_stays_not_serving_and_new_watches_end(
    server: GrpcServer, health: Any
) -> None:
    await server.set_serving(True)
    await server.health.shutdown()
    await server.set_serving(True)  # ignored: shutting down is for good
    assert await _check(health, "") == NOT_SERVING
    assert await _check(health, "x.Service") == NOT_SERVING
    call = health.Watch(health_pb2.HealthCheckRequest(service=""))
    assert (await _read(call)).status == NOT_SERVING
    assert await _read(call) is grpc.aio.EOF
    assert await call.code() == grpc.StatusCode.OK


async def test_a_watch_of_a_never_serving_server_ends_on_shutdown(server: GrpcServer, health: Any) -> None:
    call = health.Watch(health_pb2.HealthCheckRequest(service=""))
    assert (await _read(call)).status == NOT_SERVING
    await server.health.shutdown()
    assert await _read(call) is grpc.aio.EOF
    assert await call.code() == grpc.StatusCode.OK


async def test_a_watcher_asking_for_heartbeats_gets_the_status_repeated(
    server: GrpcServer, health: Any
) -> None:
    await server.set_serving(True)
    request = health_pb2.HealthCheckRequest(service="x.Service")
    call = health.Watch(request, metadata=(("prizm-heartbeat-ms", "100"),))
    started = asyncio.get_running_loop().time()
    statuses = [(await _read(call)).status for _ in range(4)]
    took = asyncio.get_running_loop().time() - started
    call.cancel()
    assert statuses == [SERVING] * 4
    assert 0.25 <= took < 1.0, "three repeats, 100 ms apart"
    # A watcher that does not ask gets nothing while nothing changes.
    quiet = health.Watch(request)
    assert (await _read(quiet)).status == SERVING
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await quiet.read()
    quiet.cancel()
