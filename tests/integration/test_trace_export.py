"""OTLP export from real processes: `prizm router` with `tracing.otlp_endpoint` and the sidecar it
starts both send their spans, in the caller's trace, to a collector (a local OTLP/gRPC server)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as otlp_pb
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as otlp_grpc
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import model_service_pb2_grpc as model_grpc

from prizm_core.assets import text_asset
from prizm_core.channels import insecure_channel
from tests.support.mesh import wait_routable
from tests.support.processes import start_router

TRACE_ID = "5b8efff798038103d269b633813fc60c"
TRACEPARENT = f"00-{TRACE_ID}-eee19b7ec3c1b174-01"


class Collector(otlp_grpc.TraceServiceServicer):
    """Keeps every span it is sent, by the `service.name` of its resource."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, str]] = []  # service, span name, trace id

    async def Export(  # noqa: N802 - gRPC method name
        self, request: otlp_pb.ExportTraceServiceRequest, context: Any
    ) -> otlp_pb.ExportTraceServiceResponse:
        for resource_spans in request.resource_spans:
            names = [
                a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"
            ]
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    self.spans.append((names[0] if names else "", span.name, span.trace_id.hex()))
        return otlp_pb.ExportTraceServiceResponse()


async def test_the_router_and_its_sidecar_export_the_callers_trace_over_otlp(tmp_path: Path) -> None:
    collector = Collector()
    server = grpc.aio.server()
    otlp_grpc.add_TraceServiceServicer_to_server(collector, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    config = tmp_path / "router.yaml"
    config.write_text(
        f"tracing: {{otlp_endpoint: 'http://127.0.0.1:{port}'}}\nsidecars:\n  - provider: synthetic\n",
        encoding="utf-8",
    )
    router = start_router(config)
    try:
        await wait_routable(router.address, 1, timeout=60)
        request = model_pb.TransformRequest(
            capability=media_pb.CAPABILITY_TEXT_TO_TEXT, inputs=[text_asset("export me")]
        )
        async with insecure_channel(router.address) as channel:
            call = model_grpc.ModelServiceStub(channel).Transform(
                request, metadata=(("traceparent", TRACEPARENT),), timeout=30
            )
            assert [event async for event in call]
    finally:
        # In a thread: the collector answers on this loop while the processes flush at exit.
        assert await asyncio.to_thread(router.stop) == 0
        await server.stop(None)
    mine = sorted({(service, name) for service, name, trace in collector.spans if trace == TRACE_ID})
    assert mine == [
        ("prizm-router", "prizm.v1.ModelService/Transform"),
        ("synthetic", "prizm.v1.ModelService/Transform"),
    ]
    assert len([s for s in collector.spans if s[2] == TRACE_ID]) == 3  # router server + attempt, provider
