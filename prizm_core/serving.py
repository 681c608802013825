"""The gRPC server every Prizm process runs: health, reflection, graceful drain, stop signals."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection

from prizm_core.channels import server_options
from prizm_core.handlers import add_service
from prizm_core.health import HealthServicer

__all__ = ["EXIT_UNAVAILABLE", "GrpcServer", "ServeSettings", "announce_listening", "stop_signal"]

log = logging.getLogger(__name__)

# Exit status (EX_CONFIG) of a server that cannot run on this machine: unknown provider, missing
# extra or tool. A router does not restart a sidecar that exits with it.
EXIT_UNAVAILABLE = 78

# Looked up in the pool (filled by importing health_pb2) for a typed descriptor.
HEALTH_SERVICE = descriptor_pool.Default().FindServiceByName("grpc.health.v1.Health")
_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass(frozen=True)
class ServeSettings:
    """Where and how a server listens and stops.

    Attributes:
        host: Interface to bind; loopback unless deliberately exposed.
        port: Port to bind; 0 picks a free one.
        reflection: Whether to serve gRPC server reflection.
        grace_s: How long in-flight calls may take to finish on stop.
        notice_s: How long NOT_SERVING is shown before new calls are refused,
            so health watchers route away before the listener closes.
        max_concurrent_streams: Streams allowed per connection.
    """

    host: str = "127.0.0.1"
    port: int = 0
    reflection: bool = True
    grace_s: float = 10.0
    notice_s: float = 0.25
    max_concurrent_streams: int = 1_000


class GrpcServer:
    """A `grpc.aio` server with health for `""` and each named service, and reflection.

    It starts NOT_SERVING; the owner calls `set_serving(True)` once warm.
    """

    def __init__(self, settings: ServeSettings, service_names: Sequence[str]) -> None:
        self.settings = settings
        self.service_names = tuple(service_names)
        self.server = grpc.aio.server(options=server_options(settings.max_concurrent_streams))
        self.health = HealthServicer()
        add_service(self.server, HEALTH_SERVICE, self.health)
        if settings.reflection:
            names = (*self.service_names, HEALTH_SERVICE.full_name, reflection.SERVICE_NAME)
            reflection.enable_server_reflection(names, self.server)
        self.port = 0

    @property
    def address(self) -> str:
        """`host:port` the server listens on, once started."""
        return f"{self.settings.host}:{self.port}"

    async def start(self) -> str:
        """Binds, starts NOT_SERVING and returns the address."""
        self.port = self.server.add_insecure_port(f"{self.settings.host}:{self.settings.port}")
        if self.port == 0:
            raise OSError(f"cannot bind {self.settings.host}:{self.settings.port}")
        await self.set_serving(False)
        await self.server.start()
        return self.address

    async def set_serving(self, serving: bool) -> None:
        """Sets the health of `""` and of every service."""
        status = _SERVING if serving else _NOT_SERVING
        for name in ("", *self.service_names):
            await self.health.set(name, status)

    async def stop(self) -> None:
        """Graceful stop: NOT_SERVING, a moment for watchers to notice, drain, then close."""
        await self.health.shutdown()
        await asyncio.sleep(self.settings.notice_s)
        await self.server.stop(self.settings.grace_s)

    async def wait_for_termination(self) -> None:
        """Returns when the server has stopped."""
        await self.server.wait_for_termination()


def stop_signal() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT in the running loop."""
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, event.set)
    return event


def announce_listening(address: str, **fields: str) -> None:
    """Writes the one machine-readable line a parent process waits for on stdout."""
    sys.stdout.write(json.dumps({"event": "listening", "address": address, **fields}) + "\n")
    sys.stdout.flush()
