"""A bare gRPC forwarder for one lever: relaying Transform events as bytes vs parsing and re-serializing them.

`python -m benchmarks.naive_proxy --upstream HOST:PORT --mode bytes|parsed`
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from typing import Any

import grpc
import uvloop
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import model_service_pb2_grpc as model_grpc

from prizm_core.channels import insecure_channel
from prizm_core.handlers import add_service
from prizm_core.serving import GrpcServer, ServeSettings, announce_listening, stop_signal

MODEL_SERVICE = model_pb.DESCRIPTOR.services_by_name["ModelService"]


class Forwarder:
    """ModelService.Transform forwarded to one upstream, the events as bytes or as parsed messages."""

    def __init__(self, upstream: str, parsed: bool) -> None:
        self.channel = insecure_channel(upstream)
        self.parsed = parsed
        self.stub = model_grpc.ModelServiceStub(self.channel)
        self.raw: grpc.aio.UnaryStreamMultiCallable[bytes, bytes] = self.channel.unary_stream(
            "/prizm.v1.ModelService/Transform"
        )

    async def Transform(  # noqa: N802 - gRPC method name
        self, request: model_pb.TransformRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Any]:
        """Forwards the stream."""
        if self.parsed:
            async for event in self.stub.Transform(request):
                yield event
        else:
            async for raw in self.raw(request.SerializeToString()):
                yield raw

    async def EstimateCost(  # noqa: N802 - gRPC method name
        self, request: model_pb.EstimateCostRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> model_pb.EstimateCostResponse:
        """Forwards the call."""
        response: model_pb.EstimateCostResponse = await self.stub.EstimateCost(request)
        return response

    async def ValidateInput(  # noqa: N802 - gRPC method name
        self, request: model_pb.ValidateInputRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> model_pb.ValidateInputResponse:
        """Forwards the call."""
        response: model_pb.ValidateInputResponse = await self.stub.ValidateInput(request)
        return response


async def _serve(upstream: str, parsed: bool) -> None:
    server = GrpcServer(ServeSettings(reflection=False), [MODEL_SERVICE.full_name])
    add_service(
        server.server,
        MODEL_SERVICE,
        Forwarder(upstream, parsed),
        raw_responses=() if parsed else {"Transform"},
    )
    address = await server.start()
    await server.set_serving(True)
    announce_listening(address, role="naive-proxy")
    await stop_signal().wait()
    await server.stop()


def main() -> None:
    """Parses the command line and serves until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--mode", choices=("bytes", "parsed"), required=True)
    args = parser.parse_args()
    uvloop.run(_serve(args.upstream, args.mode == "parsed"))


if __name__ == "__main__":
    main()
