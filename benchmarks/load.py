"""The benchmark client: pre-serialized requests, raw-bytes responses, so every target costs it the same."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import grpc
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.assets import text_asset
from prizm_core.channels import channel_options
from prizm_core.options import options_struct

__all__ = ["Target", "estimate_request", "transform_request"]

TRANSFORM = "/prizm.v1.ModelService/Transform"
ROUTED_TRANSFORM = "/prizm.v1.RouterService/Transform"
_ESTIMATE = "/prizm.v1.ModelService/EstimateCost"


def transform_request(events: int, output_bytes: int, interval_ms: float = 0.0, provider: str = "") -> bytes:
    """A synthetic Transform: `events` progress events, then `output_bytes` of output.

    With `provider`, a `RouterService.Transform` request naming that provider.
    """
    options = options_struct({"events": events, "output_bytes": output_bytes, "interval_ms": interval_ms})
    capability, inputs = media_pb.CAPABILITY_TEXT_TO_TEXT, [text_asset("benchmark ")]
    if provider:
        routing = router_pb.RoutingHints(provider=provider)
        routed = router_pb.RouterServiceTransformRequest(
            capability=capability, inputs=inputs, options=options, routing=routing
        )
        return routed.SerializeToString()
    return model_pb.TransformRequest(
        capability=capability, inputs=inputs, options=options
    ).SerializeToString()


def estimate_request() -> bytes:
    """A synthetic EstimateCost: the unary call of the mesh."""
    request = model_pb.EstimateCostRequest(
        capability=media_pb.CAPABILITY_TEXT_TO_TEXT, inputs=[text_asset("x")]
    )
    return request.SerializeToString()


@dataclass
class Target:
    """One way to reach the provider: direct, through the router (plaintext or TLS), or through nginx."""

    name: str
    address: str
    connections: int = 1
    transform: str = TRANSFORM
    options: list[tuple[str, int]] = field(default_factory=channel_options)
    # TLS to a server that speaks it; plaintext when None.
    credentials: grpc.ChannelCredentials | None = None
    # Sent on every call: an `authorization` bearer for a router with auth on.
    metadata: tuple[tuple[str, str], ...] = ()
    _channels: list[grpc.aio.Channel] = field(default_factory=list)

    async def open(self) -> Target:
        """Opens `connections` channels (each its own HTTP/2 connection) and waits until ready."""
        for index in range(self.connections):
            # A distinct argument per channel keeps gRPC from sharing one connection between them.
            options = [
                *self.options,
                ("grpc.use_local_subchannel_pool", 1),
                ("prizm.bench.channel", index),
            ]
            channel = (
                grpc.aio.secure_channel(self.address, self.credentials, options=options)
                if self.credentials is not None
                else grpc.aio.insecure_channel(self.address, options=options)
            )
            await asyncio.wait_for(channel.channel_ready(), 10)
            self._channels.append(channel)
        return self

    async def close(self) -> None:
        """Closes every channel."""
        for channel in self._channels:
            await channel.close()

    def channel(self, index: int) -> grpc.aio.Channel:
        """The channel for stream `index`: streams are spread over the connections."""
        return self._channels[index % len(self._channels)]

    async def unary(self, request: bytes, index: int = 0) -> float:
        """One EstimateCost; its latency in seconds."""
        call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = self.channel(index).unary_unary(_ESTIMATE)
        started = time.perf_counter()
        await call(request, timeout=30, metadata=self.metadata or None)
        return time.perf_counter() - started

    async def drive(self, request: bytes, concurrency: int, seconds: float) -> int:
        """Runs `concurrency` loops of Transforms for `seconds`; returns how many completed."""
        done = 0
        end = time.perf_counter() + seconds

        async def loop(index: int) -> None:
            nonlocal done
            while time.perf_counter() < end:
                await self.stream(request, index)
                done += 1

        await asyncio.gather(*(loop(i) for i in range(concurrency)))
        return done

    async def stream(
        self, request: bytes, index: int = 0, first: asyncio.Event | None = None
    ) -> tuple[float, int]:
        """One Transform read to its end; its latency in seconds and the bytes received.

        `first`, if given, is set when the first event arrives.
        """
        call: grpc.aio.UnaryStreamMultiCallable[bytes, bytes] = self.channel(index).unary_stream(
            self.transform
        )
        received = 0
        started = time.perf_counter()
        async for message in call(request, timeout=600, metadata=self.metadata or None):
            received += len(message)
            if first is not None:
                first.set()
        return time.perf_counter() - started, received
