"""The gRPC server metrics on a real server: codes as go-grpc-prometheus names them, and messages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CollectorRegistry

from prizm_core.channels import insecure_channel
from prizm_core.serving import GrpcServer, ServeSettings
from prizm_core.telemetry.grpc_metrics import ServerMetricsInterceptor, counted_stream, counted_unary
from prizm_core.telemetry.metrics import ProcessMetrics

HEALTH = {"grpc_service": "grpc.health.v1.Health"}
TIMEOUT_S = 5.0


def count(registry: CollectorRegistry, name: str, **labels: str) -> float:
    """The sum of `name` over the samples whose labels include `labels`."""
    return sum(
        sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


@pytest.fixture
async def served() -> AsyncIterator[tuple[GrpcServer, ProcessMetrics]]:
    """A server on a free loopback port counting into its own metrics."""
    metrics = ProcessMetrics()
    server = GrpcServer(ServeSettings(), ["x.Service"], [ServerMetricsInterceptor(metrics.grpc)])
    await server.start()
    await server.set_serving(True)
    yield server, metrics
    await server.server.stop(0)


async def test_unary_calls_are_counted_by_code(served: tuple[GrpcServer, ProcessMetrics]) -> None:
    server, metrics = served
    async with insecure_channel(server.address) as channel:
        health: Any = health_pb2_grpc.HealthStub(channel)
        for _ in range(2):
            await health.Check(health_pb2.HealthCheckRequest(service="x.Service"), timeout=TIMEOUT_S)
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await health.Check(health_pb2.HealthCheckRequest(service="nope"), timeout=TIMEOUT_S)
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
        # Bytes that are not a request: the handlers refuse them with INVALID_ARGUMENT.
        raw: Any = channel.unary_unary("/grpc.health.v1.Health/Check")
        with pytest.raises(grpc.aio.AioRpcError) as garbage:
            await raw(b"\xff\xff\xff", timeout=TIMEOUT_S)
        assert garbage.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    registry, check = metrics.registry, {"grpc_method": "Check", "grpc_type": "unary", **HEALTH}
    assert count(registry, "grpc_server_started_total", **check) == 4
    assert count(registry, "grpc_server_handled_total", grpc_code="OK", **check) == 2
    assert count(registry, "grpc_server_handled_total", grpc_code="NotFound", **check) == 1
    assert count(registry, "grpc_server_handled_total", grpc_code="InvalidArgument", **check) == 1
    assert count(registry, "grpc_server_handling_seconds_count", **check) == 4
    assert count(registry, "grpc_server_msg_received_total", **check) == 4
    assert count(registry, "grpc_server_msg_sent_total", **check) == 2


async def test_a_stream_the_caller_cancels_is_canceled(served: tuple[GrpcServer, ProcessMetrics]) -> None:
    server, metrics = served
    watch = {"grpc_method": "Watch", "grpc_type": "server_stream", **HEALTH}
    async with insecure_channel(server.address) as channel:
        health: Any = health_pb2_grpc.HealthStub(channel)
        call = health.Watch(health_pb2.HealthCheckRequest(service="x.Service"))
        first = await asyncio.wait_for(call.read(), TIMEOUT_S)
        assert first.status == health_pb2.HealthCheckResponse.SERVING
        call.cancel()
        for _ in range(100):  # the handler ends just after the caller left
            if count(metrics.registry, "grpc_server_handled_total", **watch):
                break
            await asyncio.sleep(0.02)
    assert count(metrics.registry, "grpc_server_handled_total", grpc_code="Canceled", **watch) == 1
    assert count(metrics.registry, "grpc_server_msg_sent_total", **watch) == 1


async def test_an_unknown_method_is_not_counted(served: tuple[GrpcServer, ProcessMetrics]) -> None:
    server, metrics = served
    async with insecure_channel(server.address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            unknown: Any = channel.unary_unary("/caller.Chosen/Name")
            await unknown(b"", timeout=TIMEOUT_S)
    assert missing.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert count(metrics.registry, "grpc_server_started_total") == 0


async def test_client_calls_are_counted(served: tuple[GrpcServer, ProcessMetrics]) -> None:
    server, metrics = served
    path = "/grpc.health.v1.Health/Watch"
    async with insecure_channel(server.address) as channel:
        health: Any = health_pb2_grpc.HealthStub(channel)
        await counted_unary(
            metrics.grpc, "/grpc.health.v1.Health/Check", health.Check(health_pb2.HealthCheckRequest())
        )
        with pytest.raises(grpc.aio.AioRpcError):
            await counted_unary(
                metrics.grpc,
                "/grpc.health.v1.Health/Check",
                health.Check(health_pb2.HealthCheckRequest(service="nope")),
            )
        stream = counted_stream(metrics.grpc, path, aiter(health.Watch(health_pb2.HealthCheckRequest())))
        async for _ in stream:
            break
        await stream.aclose()
    registry = metrics.registry
    check = {"grpc_method": "Check", "grpc_type": "unary", **HEALTH}
    assert count(registry, "grpc_client_handled_total", grpc_code="OK", **check) == 1
    assert count(registry, "grpc_client_handled_total", grpc_code="NotFound", **check) == 1
    watch = {"grpc_method": "Watch", "grpc_type": "server_stream", **HEALTH}
    assert count(registry, "grpc_client_handled_total", grpc_code="Canceled", **watch) == 1
    assert count(registry, "grpc_client_msg_received_total", **watch) == 1
